using System.Security.Cryptography;
using Strata.Platform;
using Strata.Repository;

namespace Strata.Sync;

public sealed record SyncOptions
{
    public bool DryRun { get; init; }
    /// <summary>Names the trash folder of this run: .strata-trash/2026-11-23T020424Z/.</summary>
    public DateTimeOffset Now { get; init; } = DateTimeOffset.UtcNow;
    public int Parallel { get; init; } = 4;
    /// <summary>A local folder never to descend into (the target itself, when it lies inside the source).</summary>
    public string? SkipFolder { get; init; }
}

/// <param name="IsError">The file could not be read (the run is partial); false for what sync never copies (links, FIFOs, devices).</param>
public sealed record SyncSkipped(string Path, string Reason, bool IsError = true);

public sealed record SyncResult(
    IReadOnlyList<string> Uploaded,
    long UploadedBytes,
    long Unchanged,
    IReadOnlyList<string> Trashed,
    string TrashFolder,
    IReadOnlyList<SyncSkipped> Skipped,
    bool ManifestWasMissing);

/// <summary>
/// strata sync: mirrors a local tree into an <see cref="ISyncTarget"/> as plain files, the local side authoritative.
/// New and changed files are uploaded; a file is unchanged when its size and mtime match the manifest, or, failing
/// that, its SHA-256 does (then only the manifest is updated). Files gone locally are moved into
/// .strata-trash/&lt;time&gt;/ with their path, never deleted. Without a manifest (first run, or lost) every local
/// file is uploaded and target files with no local counterpart go to the trash.
/// Files and folders that cannot be read are reported and left alone in the target (never trashed).
/// Memory: the manifest (about 150 bytes per file) and the list of changes.
/// </summary>
public static class Syncer
{
    public static async Task<SyncResult> RunAsync(string source, ISyncTarget target, SyncOptions options, Action<string>? uploaded, CancellationToken ct)
    {
        source = Path.GetFullPath(source);
        if (!Directory.Exists(source))
        {
            throw new UserInputException(File.Exists(source) ? $"sync source {source} is a file, not a folder" : $"sync source {source} does not exist");
        }
        await target.PrepareAsync(ct).ConfigureAwait(false);
        byte[]? manifestBytes = await target.ReadManifestAsync(ct).ConfigureAwait(false);
        SyncManifest? old = manifestBytes is null ? null : SyncManifest.TryParse(manifestBytes);
        bool missing = old is null;
        if (old is null)
        {
            // What the target holds without a manifest: sizes only, so every local file is uploaded again.
            old = new SyncManifest();
            await foreach (SyncTargetFile f in target.ListAsync(ct).ConfigureAwait(false))
            {
                old.Files[f.Path] = new SyncManifestEntry(f.Size, -1, "");
            }
        }

        var next = new SyncManifest();
        var uploads = new List<(string Rel, string Full, long Size, DateTimeOffset Modified)>();
        var skipped = new List<SyncSkipped>();
        var unreadableFolders = new List<string>();
        long unchanged = 0;
        foreach (var (rel, full, stat) in Walk(source, options.SkipFolder, skipped, unreadableFolders))
        {
            ct.ThrowIfCancellationRequested();
            long mtime = stat.MTimeNs;
            old.Files.TryGetValue(rel, out SyncManifestEntry? before);
            if (before is { Sha256.Length: > 0 } && before.Size == stat.Size && before.MTimeNs == mtime)
            {
                next.Files[rel] = before;
                unchanged++;
                continue;
            }
            string hash;
            try
            {
                hash = await HashAsync(full, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                skipped.Add(new SyncSkipped(rel, e.Message));
                if (before is not null)
                {
                    next.Files[rel] = before; // keep what the target has
                }
                continue;
            }
            var entry = new SyncManifestEntry(stat.Size, mtime, hash);
            next.Files[rel] = entry;
            if (before is not null && before.Sha256 == hash && before.Size == stat.Size)
            {
                unchanged++;
                continue;
            }
            uploads.Add((rel, full, stat.Size, DateTimeOffset.UnixEpoch.AddTicks(mtime / 100)));
        }

        string trash = $"{ISyncTarget.TrashFolder}/{options.Now.UtcDateTime:yyyy-MM-dd'T'HHmmss'Z'}";
        var gone = old.Files
            .Where(kv => !next.Files.ContainsKey(kv.Key) && !skipped.Any(s => s.Path == kv.Key) && !unreadableFolders.Any(d => kv.Key.StartsWith(d + "/", StringComparison.Ordinal)))
            .Select(kv => (Path: kv.Key, kv.Value.Size))
            .ToList();
        // Entries of unreadable folders stay in the manifest: the target keeps those files.
        foreach (var (path, e) in old.Files)
        {
            if (!next.Files.ContainsKey(path) && unreadableFolders.Any(d => path.StartsWith(d + "/", StringComparison.Ordinal)))
            {
                next.Files[path] = e;
            }
        }

        if (!options.DryRun)
        {
            var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, options.Parallel), CancellationToken = ct };
            await Parallel.ForEachAsync(uploads, parallel, async (u, c) =>
            {
                await target.PutFileAsync(u.Rel, u.Full, u.Size, u.Modified, c).ConfigureAwait(false);
                uploaded?.Invoke(u.Rel);
            }).ConfigureAwait(false);
            await Parallel.ForEachAsync(gone, parallel, async (g, c) =>
                await target.MoveAsync(g.Path, $"{trash}/{g.Path}", g.Size, c).ConfigureAwait(false)).ConfigureAwait(false);
            await target.WriteManifestAsync(next.ToBytes(), ct).ConfigureAwait(false);
        }
        return new SyncResult(
            uploads.Select(u => u.Rel).ToList(),
            uploads.Sum(u => u.Size),
            unchanged,
            gone.Select(g => g.Path).ToList(),
            trash,
            skipped,
            missing);
    }

    private static async Task<string> HashAsync(string path, CancellationToken ct)
    {
        await using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(f, ct).ConfigureAwait(false));
    }

    /// <summary>Regular files under <paramref name="root"/>, depth first, sorted; symbolic links and special files are reported and skipped.</summary>
    private static IEnumerable<(string Rel, string Full, FileStat Stat)> Walk(string root, string? skipFolder, List<SyncSkipped> skipped, List<string> unreadableFolders)
    {
        var stack = new Stack<(string Full, string Rel)>();
        stack.Push((root, ""));
        while (stack.Count > 0)
        {
            var (dir, relDir) = stack.Pop();
            List<FileSystemInfo> entries;
            try
            {
                entries = new DirectoryInfo(dir).EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal).ToList();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                skipped.Add(new SyncSkipped(relDir.Length == 0 ? "." : relDir, e.Message));
                unreadableFolders.Add(relDir);
                continue;
            }
            var subdirs = new List<(string, string)>();
            foreach (FileSystemInfo e in entries)
            {
                string rel = relDir.Length == 0 ? e.Name : relDir + "/" + e.Name;
                if (relDir.Length == 0 && e.Name is ".strata-trash" or ".strata-sync")
                {
                    continue; // a target's own reserved names, if the source was once a target
                }
                if (e.LinkTarget is not null)
                {
                    skipped.Add(new SyncSkipped(rel, "symbolic link (not synced)", IsError: false));
                }
                else if (e is DirectoryInfo d)
                {
                    if (skipFolder is null || !string.Equals(Path.GetFullPath(d.FullName).TrimEnd('/'), skipFolder.TrimEnd('/'), StringComparison.Ordinal))
                    {
                        subdirs.Add((d.FullName, rel));
                    }
                }
                else if (!Posix.TryLStat(Posix.ToBytes(e.FullName), out FileStat st, out int errno))
                {
                    skipped.Add(new SyncSkipped(rel, $"cannot stat: errno {errno}"));
                }
                else if (st.Kind == FileKind.Regular)
                {
                    yield return (rel, e.FullName, st);
                }
                else
                {
                    // FIFOs, sockets and devices: reading a FIFO would block forever
                    skipped.Add(new SyncSkipped(rel, "not a regular file (not synced)", IsError: false));
                }
            }
            for (int i = subdirs.Count - 1; i >= 0; i--)
            {
                stack.Push(subdirs[i]);
            }
        }
    }
}
