using System.Collections.Concurrent;
using Strata.Crypto;
using Strata.Platform;
using Strata.Repository;
using Strata.Snapshots;

namespace Strata.Archiver;

public enum VerifyChange
{
    /// <summary>The content differs (or the entry became another kind of entry).</summary>
    Changed,
    /// <summary>In the snapshot, not on disk.</summary>
    Missing,
    /// <summary>On disk, not in the snapshot, and not left out by the snapshot's filters.</summary>
    New,
    /// <summary>Same content; mtime, mode or owner differ.</summary>
    Metadata,
    /// <summary>On disk but could not be read.</summary>
    Unreadable,
}

/// <summary>One difference between the disk and a snapshot.</summary>
public sealed record VerifyDifference(
    string Path,
    VerifyChange Change,
    string Detail,
    long? SizeBefore = null,
    long? SizeAfter = null,
    DateTimeOffset? MTimeBefore = null,
    DateTimeOffset? MTimeAfter = null);

public sealed record VerifyResult(IReadOnlyList<VerifyDifference> Differences, long FilesChecked, long FilesHashed, long BytesRead);

/// <summary>
/// Compares files on disk with a snapshot, from warm data only: the snapshot's trees come from warm tree packs, and
/// the blob ids to compare are keyed hashes computed here from the disk's bytes with the repository's chunker, so no
/// data pack is read and nothing is thawed. Unlike a backup, every file is read (unless metadata only is asked), so
/// content that changed under unchanged metadata (bit rot) is found. The snapshot's recorded filters decide which
/// files on disk are "new" and which were left out on purpose.
/// </summary>
public sealed class DiskVerifier
{
    private readonly Repo _repo;
    private readonly Snapshot _snapshot;
    private readonly SourceFilter _filter;
    private readonly bool _metadataOnly;
    private readonly int _workers;
    private readonly ConcurrentBag<VerifyDifference> _differences = [];
    private readonly List<(string Path, byte[] Full, Node Node, FileStat Stat)> _toHash = [];
    private readonly ConcurrentBag<byte[]> _buffers = [];
    private long _filesChecked, _filesHashed, _bytesRead;

    public DiskVerifier(Repo repo, Snapshot snapshot, bool metadataOnly, Action<string>? warn = null, int? workers = null)
    {
        _repo = repo;
        _snapshot = snapshot;
        _metadataOnly = metadataOnly;
        _filter = new SourceFilter(snapshot.Filters ?? new FilterOptions(), warn);
        _workers = workers ?? Math.Max(2, Environment.ProcessorCount);
    }

    /// <summary>Verifies <paramref name="path"/> (absolute) and everything below it; throws <see cref="UserInputException"/> when the snapshot does not hold it.</summary>
    public async Task<VerifyResult> RunAsync(string path, CancellationToken ct)
    {
        Node node = await TreeOps.FindAsync(_repo, _snapshot, path, ct).ConfigureAwait(false)
            ?? throw new UserInputException($"{path} is not in the snapshot");
        byte[] full = Posix.ToBytes(path);
        if (!Posix.TryLStat(full, out FileStat st, out _))
        {
            await MissingAsync(path, node, ct).ConfigureAwait(false);
        }
        else
        {
            await CompareAsync(path, full, node, st, _filter.TargetScope(path), includeOnly: false, isTarget: true, ct).ConfigureAwait(false);
        }
        await HashAllAsync(ct).ConfigureAwait(false);
        var list = _differences.OrderBy(d => d.Path, StringComparer.Ordinal).ToList();
        return new VerifyResult(list, _filesChecked, _filesHashed, _bytesRead);
    }

    private static DateTimeOffset Time(long ns) => WormChange.FromNs(ns);

    private async Task CompareAsync(string path, byte[] full, Node node, FileStat st, FilterScope outer, bool includeOnly, bool isTarget, CancellationToken ct)
    {
        if (node.Kind != st.Kind)
        {
            _differences.Add(new VerifyDifference(path, VerifyChange.Changed, $"was a {Kind(node.Kind)}, now a {Kind(st.Kind)}", node.Size, st.Size, Time(node.MTimeNs), Time(st.MTimeNs)));
            return;
        }
        switch (st.Kind)
        {
            case FileKind.Directory:
                await CompareDirectoryAsync(path, full, node, outer, includeOnly, isTarget, ct).ConfigureAwait(false);
                return;
            case FileKind.Regular:
                Interlocked.Increment(ref _filesChecked);
                if (_metadataOnly)
                {
                    CompareFile(path, node, st, contentChanged: node.Size != st.Size ? true : null);
                }
                else
                {
                    lock (_toHash)
                    {
                        _toHash.Add((path, full, node, st));
                    }
                }
                return;
            case FileKind.Symlink:
                byte[] target;
                try
                {
                    target = Posix.ReadLink(full);
                }
                catch (PosixException e)
                {
                    _differences.Add(new VerifyDifference(path, VerifyChange.Unreadable, e.Message));
                    return;
                }
                if (!target.AsSpan().SequenceEqual(node.LinkTarget))
                {
                    _differences.Add(new VerifyDifference(path, VerifyChange.Changed, $"symlink target {Posix.Display(node.LinkTarget)} -> {Posix.Display(target)}"));
                }
                return;
            default:
                if (node.RDev != st.RDev || node.Mode != st.Mode || node.Uid != st.Uid || node.Gid != st.Gid)
                {
                    _differences.Add(new VerifyDifference(path, VerifyChange.Metadata, MetadataDetail(node, st)));
                }
                return;
        }
    }

    private async Task CompareDirectoryAsync(string path, byte[] full, Node node, FilterScope outer, bool includeOnly, bool isTarget, CancellationToken ct)
    {
        List<DirEntry> entries;
        try
        {
            entries = Posix.ReadDirectory(full);
        }
        catch (PosixException e)
        {
            _differences.Add(new VerifyDifference(path, VerifyChange.Unreadable, e.Message));
            return;
        }
        FilterScope? scope = _filter.IsEmpty ? outer : _filter.EnterDirectory(outer, includeOnly, path, isTarget, entries);
        if (scope is null)
        {
            return; // the folder now holds a marker file: a backup would leave it out, so there is nothing to compare
        }
        IReadOnlyList<Node> nodes = node.Subtree is { } sub ? (await _repo.LoadTreeAsync(sub, ct).ConfigureAwait(false)).Nodes : [];
        int i = 0, j = 0;
        while (i < nodes.Count || j < entries.Count)
        {
            int c = i >= nodes.Count ? 1 : j >= entries.Count ? -1 : Tree.CompareNames(nodes[i].Name, entries[j].Name);
            if (c < 0)
            {
                Node gone = nodes[i++];
                await MissingAsync(Join(path, gone.DisplayName), gone, ct).ConfigureAwait(false);
                continue;
            }
            DirEntry entry = entries[j++];
            Node? known = c == 0 ? nodes[i++] : null;
            string childPath = Join(path, Posix.Display(entry.Name));
            byte[] childFull = Posix.Join(full, entry.Name);
            if (!Posix.TryLStat(childFull, out FileStat cst, out int errno))
            {
                if (known is not null)
                {
                    _differences.Add(new VerifyDifference(childPath, VerifyChange.Unreadable, $"lstat: {Posix.StrError(errno)}"));
                }
                continue;
            }
            FilterVerdict verdict = _filter.IsEmpty ? FilterVerdict.Keep : _filter.Check(scope, childPath, Posix.Display(entry.Name), cst);
            if (known is not null)
            {
                await CompareAsync(childPath, childFull, known, cst, scope, verdict == FilterVerdict.IncludeOnly, isTarget: false, ct).ConfigureAwait(false);
            }
            else if (verdict != FilterVerdict.Drop)
            {
                await NewAsync(childPath, childFull, cst, scope, verdict == FilterVerdict.IncludeOnly, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Every non-folder entry under a missing one is reported (a folder only when it held nothing).</summary>
    private async Task MissingAsync(string path, Node node, CancellationToken ct)
    {
        if (node.Kind == FileKind.Directory && node.Subtree is { } sub)
        {
            Tree tree = await _repo.LoadTreeAsync(sub, ct).ConfigureAwait(false);
            if (tree.Nodes.Count > 0)
            {
                foreach (Node child in tree.Nodes)
                {
                    await MissingAsync(Join(path, child.DisplayName), child, ct).ConfigureAwait(false);
                }
                return;
            }
        }
        string detail = node.Kind == FileKind.Regular ? $"not on disk (was {node.Size} bytes)" : $"not on disk (a {Kind(node.Kind)})";
        _differences.Add(new VerifyDifference(path, VerifyChange.Missing, detail, node.Kind == FileKind.Regular ? node.Size : null, null, Time(node.MTimeNs)));
    }

    /// <summary>A new entry; in a new folder, each entry the snapshot's filters would back up.</summary>
    private async Task NewAsync(string path, byte[] full, FileStat st, FilterScope outer, bool includeOnly, CancellationToken ct)
    {
        if (st.Kind != FileKind.Directory)
        {
            if (!includeOnly)
            {
                _differences.Add(new VerifyDifference(path, VerifyChange.New, "not in the snapshot", null, st.Kind == FileKind.Regular ? st.Size : null, null, Time(st.MTimeNs)));
            }
            return;
        }
        List<DirEntry> entries;
        try
        {
            entries = Posix.ReadDirectory(full);
        }
        catch (PosixException e)
        {
            _differences.Add(new VerifyDifference(path, VerifyChange.Unreadable, e.Message));
            return;
        }
        FilterScope? scope = _filter.IsEmpty ? outer : _filter.EnterDirectory(outer, includeOnly, path, isTarget: false, entries);
        if (scope is null)
        {
            return;
        }
        int before = _differences.Count;
        foreach (DirEntry entry in entries)
        {
            string childPath = Join(path, Posix.Display(entry.Name));
            byte[] childFull = Posix.Join(full, entry.Name);
            if (!Posix.TryLStat(childFull, out FileStat cst, out _))
            {
                continue;
            }
            FilterVerdict verdict = _filter.IsEmpty ? FilterVerdict.Keep : _filter.Check(scope, childPath, Posix.Display(entry.Name), cst);
            if (verdict != FilterVerdict.Drop)
            {
                await NewAsync(childPath, childFull, cst, scope, verdict == FilterVerdict.IncludeOnly, ct).ConfigureAwait(false);
            }
        }
        if (_differences.Count == before && !includeOnly)
        {
            _differences.Add(new VerifyDifference(path, VerifyChange.New, "folder not in the snapshot", null, null, null, Time(st.MTimeNs)));
        }
    }

    private async Task HashAllAsync(CancellationToken ct)
    {
        // The walk above is sequential (it is metadata); reading and hashing file contents runs on all cores.
        var options = new ParallelOptions { MaxDegreeOfParallelism = _workers, CancellationToken = ct };
        await Parallel.ForEachAsync(_toHash, options, async (item, token) =>
        {
            byte[] buffer = _buffers.TryTake(out byte[]? b) ? b : GC.AllocateUninitializedArray<byte>(FileChunker.BufferSize(_repo.Chunker));
            try
            {
                await HashOneAsync(item.Path, item.Full, item.Node, item.Stat, buffer).ConfigureAwait(false);
            }
            finally
            {
                _buffers.Add(buffer);
            }
        }).ConfigureAwait(false);
    }

    private async Task HashOneAsync(string path, byte[] full, Node node, FileStat st, byte[] buffer)
    {
        var ids = new List<BlobId>();
        long total;
        List<Extent> extents;
        try
        {
            using var handle = Posix.OpenRead(full);
            FileStat before = Posix.FStat(handle);
            (total, extents, _) = await FileChunker.ReadAsync(handle, before, _repo.Chunker, buffer, chunk =>
            {
                ids.Add(_repo.Keys.IdOf(chunk.Span));
                return ValueTask.CompletedTask;
            }).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _differences.Add(new VerifyDifference(path, VerifyChange.Unreadable, e.Message));
            return;
        }
        Interlocked.Increment(ref _filesHashed);
        Interlocked.Add(ref _bytesRead, total);
        bool contentChanged = !ids.SequenceEqual(node.Content) || !extents.SequenceEqual(node.Extents) || node.Size != st.Size;
        CompareFile(path, node, st, contentChanged);
    }

    /// <param name="contentChanged">true: differs; false: same; null: not known (metadata only, same size).</param>
    private void CompareFile(string path, Node node, FileStat st, bool? contentChanged)
    {
        bool sizeChanged = node.Size != st.Size;
        bool mtimeChanged = node.MTimeNs != st.MTimeNs;
        bool metaChanged = mtimeChanged || node.Mode != st.Mode || node.Uid != st.Uid || node.Gid != st.Gid;
        if (contentChanged == true)
        {
            var parts = new List<string>();
            if (sizeChanged)
            {
                parts.Add($"size {node.Size} -> {st.Size} bytes");
            }
            if (mtimeChanged)
            {
                parts.Add($"mtime {Time(node.MTimeNs):yyyy-MM-dd HH:mm:ss.fff} -> {Time(st.MTimeNs):yyyy-MM-dd HH:mm:ss.fff}");
            }
            if (!_metadataOnly)
            {
                parts.Add(sizeChanged || mtimeChanged ? "content hash differs" : "content hash differs with size and mtime unchanged (bit rot or tampering?)");
            }
            if (node.ChangedWhileReading)
            {
                parts.Add("the backup read it while it was changing");
            }
            _differences.Add(new VerifyDifference(path, VerifyChange.Changed, string.Join(", ", parts), node.Size, st.Size, Time(node.MTimeNs), Time(st.MTimeNs)));
        }
        else if (metaChanged)
        {
            string content = contentChanged switch { false => ", content identical", null => ", content not compared (--metadata-only)", _ => "" };
            _differences.Add(new VerifyDifference(path, VerifyChange.Metadata, MetadataDetail(node, st) + content,
                node.Size, st.Size, Time(node.MTimeNs), Time(st.MTimeNs)));
        }
    }

    private static string MetadataDetail(Node node, FileStat st)
    {
        var parts = new List<string>();
        if (node.MTimeNs != st.MTimeNs && node.Kind != FileKind.Directory)
        {
            parts.Add($"mtime {Time(node.MTimeNs):yyyy-MM-dd HH:mm:ss.fff} -> {Time(st.MTimeNs):yyyy-MM-dd HH:mm:ss.fff}");
        }
        if (node.Mode != st.Mode)
        {
            parts.Add($"mode {Convert.ToString(node.Mode, 8)} -> {Convert.ToString(st.Mode, 8)}");
        }
        if (node.Uid != st.Uid || node.Gid != st.Gid)
        {
            parts.Add($"owner {node.Uid}:{node.Gid} -> {st.Uid}:{st.Gid}");
        }
        if (node.RDev != st.RDev)
        {
            parts.Add("device number changed");
        }
        return string.Join(", ", parts);
    }

    private static string Join(string dir, string name) => dir == "/" ? "/" + name : dir + "/" + name;

    private static string Kind(FileKind k) => k switch
    {
        FileKind.Regular => "file",
        FileKind.Directory => "folder",
        FileKind.Symlink => "symlink",
        FileKind.Fifo => "fifo",
        FileKind.Socket => "socket",
        _ => "device",
    };
}
