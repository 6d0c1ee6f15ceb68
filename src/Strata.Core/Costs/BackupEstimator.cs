using Strata.Archiver;
using Strata.Crypto;
using Strata.Platform;
using Strata.Repository;
using Strata.Snapshots;

namespace Strata.Costs;

/// <summary>
/// What a backup of some paths would add, found by reading the files (the user's disk, never the repository's
/// data packs): each file that differs from the previous snapshot of the same paths is chunked and hashed like the
/// archiver does, and each chunk the index does not know (and this scan has not counted) is new.
/// </summary>
/// <param name="NewBytes">Raw bytes of new chunks after deduplication (an upper bound of the stored bytes: compression only shrinks them).</param>
/// <param name="NewBlobs">New data blobs.</param>
/// <param name="NewTreeBytes">Estimated bytes of the directory listings that change (they go to warm tree packs).</param>
/// <param name="NewTrees">Directories whose listing changes.</param>
/// <param name="AllTreeBytes">Estimated bytes of every directory listing of the snapshot (all of them go to the band record).</param>
/// <param name="AllTrees">Directories in the snapshot.</param>
public sealed record BackupScan(
    long Files,
    long FilesUnchanged,
    long FilesRead,
    long BytesTotal,
    long BytesRead,
    long NewBytes,
    long NewBlobs,
    long NewTreeBytes,
    long NewTrees,
    long AllTreeBytes,
    long AllTrees,
    bool HasParent,
    IReadOnlyList<SkippedEntry> Skipped);

/// <summary>Walks and chunks paths to estimate a backup. Single-threaded; memory: one 32-byte id per new chunk.</summary>
public static class BackupEstimator
{
    /// <summary>Estimated bytes of one node in an encoded tree besides its name and content ids (metadata, lengths).</summary>
    internal const int NodeOverheadBytes = 120;

    /// <summary>
    /// Scans <paramref name="paths"/> against the repository's index. With <paramref name="parents"/>, files unchanged since
    /// the previous snapshot of the same host and paths (same size, mtime, ctime, inode; content all indexed) are not read,
    /// exactly as the archiver skips them.
    /// </summary>
    public static async Task<BackupScan> ScanAsync(Repo repo, IReadOnlyList<string> paths, ExcludeMatcher excludes, ParentTrees? parents, string host, CancellationToken ct)
    {
        List<string> normalized = Archiver.Archiver.NormalizePaths(paths);
        Tree? parentRoot = null;
        if (parents is not null)
        {
            string sourceId = Archiver.Archiver.SourceId(repo.Keys, host, normalized);
            PreviousSnapshot? previous = await parents.FindPreviousAsync(sourceId, null, ct).ConfigureAwait(false);
            if (previous?.Tree is { } root)
            {
                parentRoot = await parents.LoadTreeAsync(root, ct).ConfigureAwait(false);
            }
        }
        var scan = new Scan(repo, excludes, parents);
        foreach (string path in normalized)
        {
            byte[] full = Posix.ToBytes(path);
            if (!Posix.TryLStat(full, out FileStat st, out int errno))
            {
                throw new UserInputException($"cannot back up {path}: {Posix.StrError(errno)}");
            }
            Node? parentNode = await ResolveAsync(parents, parentRoot, path, ct).ConfigureAwait(false);
            byte[] name = Posix.ToBytes(Path.GetFileName(path));
            await scan.VisitAsync(full, path, name, st, parentNode, ct).ConfigureAwait(false);
        }
        // The folders above the given paths ("/", "/home", ...) get trees too; they change whenever anything below does.
        long ancestors = normalized.SelectMany(Ancestors).Distinct(StringComparer.Ordinal).Count();
        scan.AllTrees += ancestors;
        scan.AllTreeBytes += ancestors * (NodeOverheadBytes + 32);
        if (scan.NewTrees > 0 || parentRoot is null)
        {
            scan.NewTrees += ancestors;
            scan.NewTreeBytes += ancestors * (NodeOverheadBytes + 32);
        }
        return new BackupScan(
            scan.Files, scan.FilesUnchanged, scan.FilesRead, scan.BytesTotal, scan.BytesRead, scan.NewBytes, scan.NewBlobs,
            scan.NewTreeBytes, scan.NewTrees, scan.AllTreeBytes, scan.AllTrees, parentRoot is not null, scan.Skipped);
    }

    private static IEnumerable<string> Ancestors(string path)
    {
        yield return "/";
        string[] parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 1; i < parts.Length; i++)
        {
            yield return "/" + string.Join('/', parts[..i]);
        }
    }

    private static async Task<Node?> ResolveAsync(ParentTrees? parents, Tree? root, string path, CancellationToken ct)
    {
        if (parents is null || root is null)
        {
            return null;
        }
        Tree? tree = root;
        Node? node = null;
        foreach (string part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (tree is null)
            {
                return null;
            }
            byte[] name = Posix.ToBytes(part);
            node = tree.Nodes.FirstOrDefault(n => n.Name.AsSpan().SequenceEqual(name));
            if (node is null)
            {
                return null;
            }
            tree = node.Subtree is { } sub ? await parents.LoadTreeAsync(sub, ct).ConfigureAwait(false) : null;
        }
        return node;
    }

    private sealed class Scan(Repo repo, ExcludeMatcher excludes, ParentTrees? parents)
    {
        private readonly HashSet<BlobId> _seen = [];
        private byte[]? _buffer;

        public long Files, FilesUnchanged, FilesRead, BytesTotal, BytesRead, NewBytes, NewBlobs, NewTreeBytes, NewTrees, AllTreeBytes, AllTrees;
        public List<SkippedEntry> Skipped { get; } = [];

        /// <summary>Visits one entry; returns whether its node differs from the parent's and its estimated size in its folder's tree.</summary>
        public async Task<(bool Dirty, long TreeBytes)> VisitAsync(byte[] full, string display, byte[] name, FileStat st, Node? parent, CancellationToken ct)
        {
            ct.ThrowIfCancellationRequested();
            switch (st.Kind)
            {
                case FileKind.Directory:
                {
                    Tree? parentTree = parent is { Kind: FileKind.Directory, Subtree: { } sub } && parents is not null
                        ? await parents.LoadTreeAsync(sub, ct).ConfigureAwait(false)
                        : null;
                    List<DirEntry> entries;
                    try
                    {
                        entries = Posix.ReadDirectory(full);
                    }
                    catch (PosixException e)
                    {
                        Skipped.Add(new SkippedEntry(display, e.Message));
                        return (true, 0);
                    }
                    bool dirty = parentTree is null || MetadataDiffers(parent!, st);
                    long treeBytes = 0;
                    int kept = 0;
                    foreach (DirEntry entry in entries)
                    {
                        byte[] childFull = Posix.Join(full, entry.Name);
                        string childDisplay = Posix.Display(childFull);
                        if (!excludes.IsEmpty && excludes.IsExcluded(childDisplay))
                        {
                            continue;
                        }
                        if (!Posix.TryLStat(childFull, out FileStat cst, out int errno))
                        {
                            Skipped.Add(new SkippedEntry(childDisplay, $"lstat: {Posix.StrError(errno)}"));
                            continue;
                        }
                        Node? parentChild = parentTree?.Nodes.FirstOrDefault(n => n.Name.AsSpan().SequenceEqual(entry.Name));
                        var (childDirty, childBytes) = await VisitAsync(childFull, childDisplay, entry.Name, cst, parentChild, ct).ConfigureAwait(false);
                        dirty |= childDirty;
                        treeBytes += childBytes;
                        kept++;
                    }
                    dirty |= parentTree is not null && parentTree.Nodes.Count != kept;
                    AllTrees++;
                    AllTreeBytes += treeBytes;
                    if (dirty)
                    {
                        NewTrees++;
                        NewTreeBytes += treeBytes;
                    }
                    return (dirty, NodeOverheadBytes + name.Length + 32);
                }
                case FileKind.Regular:
                {
                    Files++;
                    BytesTotal += st.Size;
                    if (parent is { Kind: FileKind.Regular } p && p.Size == st.Size && p.MTimeNs == st.MTimeNs && p.CTimeNs == st.CTimeNs
                        && p.Inode == st.Inode && !p.ChangedWhileReading && p.Content.All(repo.Index.Contains))
                    {
                        FilesUnchanged++;
                        return (MetadataDiffers(p, st), NodeOverheadBytes + name.Length + (32L * p.Content.Count));
                    }
                    long chunks;
                    try
                    {
                        chunks = ChunkFile(full);
                    }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                    {
                        Skipped.Add(new SkippedEntry(display, e.Message));
                        return (true, 0);
                    }
                    FilesRead++;
                    return (true, NodeOverheadBytes + name.Length + (32L * chunks));
                }
                default:
                    return (parent is null || parent.Kind != st.Kind || MetadataDiffers(parent, st), NodeOverheadBytes + name.Length);
            }
        }

        private static bool MetadataDiffers(Node n, FileStat st) =>
            n.Kind != st.Kind || n.Mode != st.Mode || n.Uid != st.Uid || n.Gid != st.Gid || n.MTimeNs != st.MTimeNs || n.CTimeNs != st.CTimeNs;

        /// <summary>
        /// Chunks one file with the archiver's own reader (same cuts, sparse regions skipped the same way) and counts
        /// the chunks the index lacks. Returns the chunk count.
        /// </summary>
        private long ChunkFile(byte[] full)
        {
            var chunker = repo.Chunker;
            _buffer ??= GC.AllocateUninitializedArray<byte>(Archiver.FileChunker.BufferSize(chunker));
            using var handle = Posix.OpenRead(full);
            long chunks = 0;
            // Every read and emit completes synchronously (RandomAccess.Read, a completed ValueTask), so this blocks on nothing.
            var (total, _, _) = Archiver.FileChunker.ReadAsync(handle, Posix.FStat(handle), chunker, _buffer, chunk =>
            {
                BlobId id = repo.Keys.IdOf(chunk.Span);
                if (!repo.Index.Contains(id) && _seen.Add(id))
                {
                    NewBytes += chunk.Length;
                    NewBlobs++;
                }
                chunks++;
                return ValueTask.CompletedTask;
            }).GetAwaiter().GetResult();
            BytesRead += total;
            return chunks;
        }
    }
}
