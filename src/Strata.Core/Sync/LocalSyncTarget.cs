using System.Runtime.CompilerServices;
using Strata.Repository;

namespace Strata.Sync;

/// <summary>
/// A local folder as a sync target (a USB disk, a NAS mount). Files are written to a temporary name in their folder
/// and renamed into place, with the source's modification time; moves into the trash are renames, and folders left
/// empty by them are removed, so the mirror's folders match the source's.
/// </summary>
public sealed class LocalSyncTarget(string root) : ISyncTarget
{
    private readonly string _root = Path.GetFullPath(root);

    public string Location => _root;

    private string Full(string rel) => Path.Combine(_root, rel.Replace('/', Path.DirectorySeparatorChar));

    public Task PrepareAsync(CancellationToken ct)
    {
        if (File.Exists(_root))
        {
            throw new UserInputException($"sync target {_root} is a file, not a folder");
        }
        try
        {
            Directory.CreateDirectory(Path.Combine(_root, ".strata-sync"));
            // Prove that files can be created, before anything is compared or moved.
            string probe = Path.Combine(_root, ".strata-sync", $".probe-{Guid.NewGuid():N}");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"sync target {_root} is not writable: {e.Message}");
        }
        return Task.CompletedTask;
    }

    public async Task<byte[]?> ReadManifestAsync(CancellationToken ct)
    {
        string path = Full(ISyncTarget.ManifestPath);
        return File.Exists(path) ? await File.ReadAllBytesAsync(path, ct).ConfigureAwait(false) : null;
    }

    public async Task WriteManifestAsync(byte[] content, CancellationToken ct)
    {
        string path = Full(ISyncTarget.ManifestPath);
        string tmp = path + ".tmp";
        await File.WriteAllBytesAsync(tmp, content, ct).ConfigureAwait(false);
        File.Move(tmp, path, overwrite: true);
    }

    public async IAsyncEnumerable<SyncTargetFile> ListAsync([EnumeratorCancellation] CancellationToken ct)
    {
        await Task.CompletedTask.ConfigureAwait(false);
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = false, AttributesToSkip = 0 };
        foreach (string f in Directory.EnumerateFiles(_root, "*", options))
        {
            ct.ThrowIfCancellationRequested();
            string rel = Path.GetRelativePath(_root, f).Replace(Path.DirectorySeparatorChar, '/');
            if (rel.StartsWith(ISyncTarget.TrashFolder + "/", StringComparison.Ordinal) || rel.StartsWith(".strata-sync/", StringComparison.Ordinal))
            {
                continue;
            }
            yield return new SyncTargetFile(rel, new FileInfo(f).Length);
        }
    }

    public async Task PutFileAsync(string path, string localFile, long size, DateTimeOffset modified, CancellationToken ct)
    {
        string dest = Full(path);
        string dir = Path.GetDirectoryName(dest)!;
        Directory.CreateDirectory(dir);
        string tmp = Path.Combine(dir, $".strata-tmp-{Guid.NewGuid():N}");
        try
        {
            await using (var src = new FileStream(localFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan))
            await using (var dst = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                await src.CopyToAsync(dst, ct).ConfigureAwait(false);
                await dst.FlushAsync(ct).ConfigureAwait(false);
                dst.Flush(flushToDisk: true);
            }
            File.SetLastWriteTimeUtc(tmp, modified.UtcDateTime);
            if (Directory.Exists(dest))
            {
                throw new IOException($"{dest} is a folder in the target but a file in the source; move it away first");
            }
            File.Move(tmp, dest, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp))
            {
                File.Delete(tmp);
            }
        }
    }

    public Task MoveAsync(string from, string to, long size, CancellationToken ct)
    {
        string src = Full(from);
        if (!File.Exists(src))
        {
            return Task.CompletedTask;
        }
        string dest = Full(to);
        Directory.CreateDirectory(Path.GetDirectoryName(dest)!);
        File.Move(src, dest, overwrite: false);
        RemoveEmptyParents(Path.GetDirectoryName(src)!);
        return Task.CompletedTask;
    }

    private void RemoveEmptyParents(string dir)
    {
        while (dir.Length > _root.Length && dir.StartsWith(_root, StringComparison.Ordinal))
        {
            try
            {
                if (Directory.EnumerateFileSystemEntries(dir).Any())
                {
                    return;
                }
                Directory.Delete(dir);
            }
            catch (IOException)
            {
                return; // another move just put something there, or it is gone already
            }
            dir = Path.GetDirectoryName(dir)!;
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
