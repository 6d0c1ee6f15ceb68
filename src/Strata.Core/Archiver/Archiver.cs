using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using System.Threading.Channels;
using Strata.Crypto;
using Strata.Index;
using Strata.Packs;
using Strata.Platform;
using Strata.Repository;
using Strata.Snapshots;
using Strata.Sources;
using Strata.Stores;

namespace Strata.Archiver;

public sealed record BackupOptions
{
    public required IReadOnlyList<string> Paths { get; init; }
    /// <summary>What to leave out (excludes, includes, marker files, size limit, git's ignore rules).</summary>
    public SourceFilter Filter { get; init; } = SourceFilter.None;
    public bool OneFileSystem { get; init; }
    public IReadOnlyList<string> Tags { get; init; } = [];
    public string Host { get; init; } = Environment.MachineName;
    /// <summary>Use this snapshot as the parent instead of the latest of the same source.</summary>
    public string? Parent { get; init; }
    /// <summary>
    /// Back up this stream instead of <see cref="Paths"/>: one file, /NAME, in an otherwise empty root. A producer
    /// that fails (see <see cref="StreamInput.CompleteAsync"/>) fails the backup: no snapshot is written.
    /// </summary>
    public StreamInput? Input { get; init; }
    /// <summary>Back up this tree (a bucket's objects) instead of <see cref="Paths"/>: the snapshot's path is its root.</summary>
    public ITreeSource? Tree { get; init; }
    public int Workers { get; init; } = Math.Max(2, Environment.ProcessorCount);
    /// <summary>The source's policy, recorded in the snapshot; <see cref="SourcePolicy.Worm"/> also checks that no file changed.</summary>
    public SourcePolicy Policy { get; init; } = SourcePolicy.None;
    /// <summary>Read every file again, even when its metadata matches the previous snapshot (a worm backup then also sees bit rot).</summary>
    public bool Force { get; init; }
}

public sealed record BackupResult(string SnapshotId, Snapshot Snapshot);

/// <summary>
/// The backup pipeline. One walker enumerates the tree in name order and hands each changed file to a pool
/// of workers (read, chunk, hash, compress) through a bounded channel; one sequencer takes the workers'
/// output in walk order and seals it into the current data pack, so a file's blobs are contiguous and files
/// appear in walk order (locality for cold restores); finished packs go to uploaders. Unchanged files
/// (same size, mtime, ctime and inode as in the parent snapshot) are not read.
/// Directory trees are built bottom-up as their children complete and go to the warm tree pack and the
/// cold band pack. Writes, in an order that keeps the repository valid if the process dies at any point:
/// packs, then their warm catalogs, then one index segment, then the snapshot.
/// </summary>
public sealed partial class Archiver
{
    private readonly Repo _repo;
    private readonly BackupOptions _options;
    private readonly BackupProgress _progress;
    private readonly ParentTrees _parents;
    private readonly ConcurrentQueue<SkippedEntry> _skipped = new();
    private readonly ConcurrentQueue<string> _changed = new();
    private readonly ConcurrentQueue<WormChange> _wormChanges = new();
    /// <summary>A worm source with a previous tree to compare with: changed and deleted files are recorded.</summary>
    private bool _worm;
    private readonly Channel<FileJob> _jobs;
    private readonly Channel<FileJob> _order;
    private readonly Channel<FinishedPack> _uploads = Channel.CreateBounded<FinishedPack>(2);
    private readonly ConcurrentDictionary<BlobId, byte> _pending = new();
    /// <summary>
    /// Files between the walker and the sequencer. Bounds how far workers run ahead of the sequencer, and so the chunk
    /// buffers waiting for it (each file holds at most its channel's 2 chunks plus the one its worker is emitting).
    /// Files on disk: up to 256 files and 32 MiB of charge, so small files keep both cores busy while a large one ahead
    /// of them is compressed (12 files at most made a backup of /usr/share/dotnet 10% slower). A tree source opens each
    /// admitted file ahead of the workers (an S3 GET), so it keeps to 12 files of any size, as before.
    /// </summary>
    private readonly InFlight _inFlight;
    private readonly List<IndexSegment.PackEntries> _written = [];
    private readonly Lock _treeLock = new();
    private readonly string _staging;
    private PackWriter? _dataPack;
    private PackWriter? _treePack;
    private PackWriter? _bandPack;
    private readonly TreeBundle _bandTrees = new();
    private long _filesNew, _filesChanged, _filesUnchanged, _dirs, _bytesRead, _bytesTotal, _bytesAdded, _bytesStored, _blobsAdded, _packsAdded;
    private ulong _rootDevice;

    public Archiver(Repo repo, BackupOptions options, BackupProgress progress, ParentTrees parents)
    {
        _repo = repo;
        _options = options;
        _progress = progress;
        _parents = parents;
        _jobs = Channel.CreateBounded<FileJob>(new BoundedChannelOptions(options.Workers * 4) { SingleWriter = true });
        _order = Channel.CreateBounded<FileJob>(new BoundedChannelOptions(4096) { SingleWriter = true, SingleReader = true });
        _staging = PackUpload.StagingDirectory(repo.Store);
        _inFlight = options.Tree is null ? new InFlight(256, 32 << 20) : new InFlight(12, 12 * InFlight.MaxCharge);
    }

    public async Task<BackupResult> RunAsync(CancellationToken ct)
    {
        DateTimeOffset start = _repo.Clock.GetUtcNow();
        StreamInput? input = _options.Input;
        ITreeSource? tree = _options.Tree;
        var paths = tree is not null ? [tree.Root] : input is null ? NormalizePaths(_options.Paths) : ["/" + input.Info.FileName];
        string sourceId = tree is not null ? SourceId(_repo.Keys, _options.Host, tree.Info) : SourceId(_repo.Keys, _options.Host, paths, stream: input is not null);
        var previous = await _parents.FindPreviousAsync(sourceId, _options.Parent, ct).ConfigureAwait(false);
        _worm = _options.Policy == SourcePolicy.Worm && previous?.Tree is not null;

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var workers = Enumerable.Range(0, _options.Workers).Select(_ => Task.Run(() => WorkerAsync(linked.Token), linked.Token)).ToList();
        var sequencer = Task.Run(() => SequencerAsync(linked.Token), linked.Token);
        var uploaders = Enumerable.Range(0, 2).Select(_ => Task.Run(() => UploaderAsync(linked.Token), linked.Token)).ToList();
        Task scanner = input is null && tree is null ? Task.Run(() => Scan(paths, linked.Token), linked.Token) : Task.CompletedTask;

        BlobId rootTree;
        BlobId? rootState;
        try
        {
            Task<Node?> root = tree is not null
                ? await WalkTreeSourceAsync(tree, previous?.Tree, linked.Token).ConfigureAwait(false)
                : input is null
                ? await WalkRootAsync(paths, previous?.Tree, linked.Token).ConfigureAwait(false)
                : await WalkStreamAsync(input, start, linked.Token).ConfigureAwait(false);
            _jobs.Writer.Complete();
            _order.Writer.Complete();
            Node? rootNode = await root.ConfigureAwait(false);
            rootTree = rootNode?.Subtree ?? throw new InvalidOperationException("root tree missing");
            rootState = rootNode.State;
            await Task.WhenAll(workers).ConfigureAwait(false);
            await sequencer.ConfigureAwait(false);
            if (input is not null)
            {
                await CompleteStreamAsync(input, linked.Token).ConfigureAwait(false);
            }
            FinishPack(ref _dataPack);
            lock (_treeLock)
            {
                FinishPack(ref _treePack);
            }
        }
        catch
        {
            _jobs.Writer.TryComplete();
            _order.Writer.TryComplete();
            _uploads.Writer.TryComplete();
            await linked.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(workers.Append(sequencer).Concat(uploaders)).ContinueWith(_ => { }, CancellationToken.None).ConfigureAwait(false);
            _dataPack?.Dispose();
            _treePack?.Dispose();
            _bandPack?.Dispose();
            throw;
        }
        await scanner.ConfigureAwait(false);

        DateTimeOffset end = _repo.Clock.GetUtcNow();
        var skipped = _skipped.ToList();
        string? state = rootState?.ToString();
        // Nothing a user cares about changed (access times aside) and nothing was skipped: no new version.
        bool unchanged = previous?.State is { } ps && ps == state && skipped.Count == 0;
        // Same state: point at the previous version's tree (only access times differ), which an earlier band holds.
        // A writer without its local cache does not know that tree: it keeps its own and writes a band for it.
        bool reuseTree = unchanged && previous!.Tree is not null;
        if (reuseTree)
        {
            rootTree = previous!.Tree!.Value;
        }
        var snapshot = new Snapshot
        {
            Time = start,
            Host = _options.Host,
            Username = Environment.UserName,
            Paths = paths,
            Tags = _options.Tags,
            Tree = rootTree.ToString(),
            Parent = previous?.SnapshotId,
            SourceId = sourceId,
            Version = unchanged ? previous!.Version : (previous?.Version ?? 0) + 1,
            State = state,
            UnchangedSince = unchanged ? previous!.Version : null,
            SecondsSincePrevious = previous is null ? null : (start - previous.Time).TotalSeconds,
            Skipped = skipped,
            ChangedWhileReading = [.. _changed],
            Partial = skipped.Count > 0,
            Filters = _options.Filter.IsEmpty ? null : _options.Filter.Options,
            Policy = SourcePolicies.Name(_options.Policy),
            WormChanges = _worm ? [.. _wormChanges.OrderBy(c => c.Path, StringComparer.Ordinal)] : null,
            Source = tree?.Info ?? input?.Info,
            Stats = new SnapshotStats
            {
                FilesNew = _filesNew,
                FilesChanged = _filesChanged,
                FilesUnchanged = _filesUnchanged,
                Directories = _dirs,
                BytesRead = _bytesRead,
                BytesTotal = _bytesTotal,
                BytesAdded = _bytesAdded,
                BytesStored = _bytesStored,
                BlobsAdded = _blobsAdded,
                PacksAdded = _packsAdded + (reuseTree ? 0 : 1),
                Seconds = (end - start).TotalSeconds,
            },
        };

        // Band record: this snapshot's trees (added as they were built) plus the snapshot itself, in a cold pack.
        // An unchanged run adds no band (its trees are all in an earlier band): one cold object less per run.
        lock (_treeLock)
        {
            if (reuseTree)
            {
                _bandPack?.Dispose();
                _bandPack = null;
            }
            else
            {
                AddBandTrees();
                byte[] body = SnapshotCodec.EncodeBody(snapshot);
                AddBlob(ref _bandPack, PackKind.Band, _repo.Keys.IdOf(body), BlobKind.Snapshot, body, _repo.Config.Compression.ColdLevel, force: true);
                FinishPack(ref _bandPack);
            }
        }
        _uploads.Writer.Complete();
        await Task.WhenAll(uploaders).ConfigureAwait(false);

        var segment = new List<IndexSegment.PackEntries>(_written);
        // Packs an interrupted run stored (found by their catalogs) join this segment with their whole catalog.
        foreach (IndexSegment.PackEntries recovered in _repo.UnsegmentedPackEntries)
        {
            if (!segment.Any(p => p.Id == recovered.Id))
            {
                segment.Add(recovered);
            }
        }
        if (segment.Count > 0)
        {
            await _repo.WriteIndexSegmentAsync(segment, ct).ConfigureAwait(false);
        }
        // An unchanged run names the band that holds the tree it points at, so that band stays while this snapshot does.
        snapshot = snapshot with { BandPack = _written.FirstOrDefault(p => p.Kind == PackKind.Band)?.Id.ToString() ?? (reuseTree ? previous!.BandPack : null) };
        string id = await _repo.WriteSnapshotAsync(snapshot, ct).ConfigureAwait(false);
        await _parents.RecordAsync(sourceId, id, snapshot, ct).ConfigureAwait(false);
        return new BackupResult(id, snapshot);
    }

    /// <summary>The source id: a keyed hash of host and sorted paths, so writers can find their previous version without reading contents.</summary>
    public static string SourceId(MasterKeys keys, string host, IReadOnlyList<string> paths, bool stream)
    {
        // A stream's versions are a series per host and file name, apart from any real file of that path.
        return SourceId(keys, host, stream ? ["stream:" + paths[0]] : paths);
    }

    /// <summary>The source id of an existing snapshot (in another repository's keys, for a copy).</summary>
    public static string SourceId(MasterKeys keys, Snapshot snapshot) => snapshot.Source is { Location: not null } tree
        ? SourceId(keys, snapshot.Host, tree)
        : SourceId(keys, snapshot.Host, snapshot.Paths, stream: snapshot.Source is not null);

    /// <summary>A tree source's versions are a series per host and location (a bucket copied from anywhere), apart from any path.</summary>
    public static string SourceId(MasterKeys keys, string host, SourceInfo tree) => SourceId(keys, host, [$"{tree.Kind}:{tree.Location}"]);

    public static string SourceId(MasterKeys keys, string host, IReadOnlyList<string> paths)
    {
        string s = host + "\n" + string.Join("\n", paths.Order(StringComparer.Ordinal));
        return BlobId.Keyed(keys.DedupKey, Encoding.UTF8.GetBytes("source\n" + s)).ToString()[..32];
    }

    /// <summary>Absolute, normalised, without duplicates or paths nested in other given paths.</summary>
    public static List<string> NormalizePaths(IReadOnlyList<string> input)
    {
        var full = input.Select(p => Path.GetFullPath(p)).Select(p => p.Length > 1 ? p.TrimEnd('/') : p).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var result = new List<string>();
        foreach (string p in full)
        {
            if (!result.Any(r => r == "/" || p.StartsWith(r + "/", StringComparison.Ordinal)))
            {
                result.Add(p);
            }
        }
        return result;
    }

    // ---------------- walking ----------------

    private sealed class PathTrie
    {
        public SortedDictionary<string, PathTrie> Children { get; } = new(StringComparer.Ordinal);
        public bool IsTarget { get; set; }
    }

    private async Task<Task<Node?>> WalkRootAsync(List<string> paths, BlobId? parentRoot, CancellationToken ct)
    {
        var trie = new PathTrie();
        foreach (string p in paths)
        {
            if (!Posix.TryLStat(Posix.ToBytes(p), out _, out int errno))
            {
                throw new UserInputException($"cannot back up {p}: {Posix.StrError(errno)}");
            }
            var node = trie;
            foreach (string part in p.Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                if (!node.Children.TryGetValue(part, out var child))
                {
                    node.Children[part] = child = new PathTrie();
                }
                node = child;
            }
            node.IsTarget = true;
        }
        _rootDevice = Posix.LStat(Posix.ToBytes(paths[0])).Device;
        Tree? parentTree = parentRoot is { } pr ? await _parents.LoadTreeAsync(pr, ct).ConfigureAwait(false) : null;
        return await WalkVirtualAsync("/", [], trie, Posix.LStat("/"u8.ToArray()), parentTree, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// The tree of a stream backup: the root folder (its metadata from "/", like any root) holding one file, mode
    /// 0600 (a dump is usually private), owned by this process's user, with the backup's start as its times.
    /// </summary>
    private async Task<Task<Node?>> WalkStreamAsync(StreamInput input, DateTimeOffset start, CancellationToken ct)
    {
        byte[] name = Encoding.UTF8.GetBytes(input.Info.FileName);
        long now = (start.ToUnixTimeMilliseconds() * 1_000_000) + (start.Ticks % TimeSpan.TicksPerMillisecond * 100);
        // /proc/self belongs to this process's effective user and group
        FileStat self = Posix.TryLStat("/proc/self"u8.ToArray(), out FileStat st, out _) ? st : default;
        var stat = new FileStat(FileKind.Regular, Convert.ToUInt32("600", 8), self.Uid, self.Gid, 0, now, now, now, 0, 0, 1, 0, 0);
        var node = new Node
        {
            Name = name,
            Kind = FileKind.Regular,
            Mode = stat.Mode,
            Uid = stat.Uid,
            Gid = stat.Gid,
            User = Posix.UserName(stat.Uid) ?? "",
            Group = Posix.GroupName(stat.Gid) ?? "",
            MTimeNs = now,
            CTimeNs = now,
            ATimeNs = now,
            Links = 1,
        };
        Interlocked.Increment(ref _filesNew);
        string display = "/" + input.Info.FileName;
        var job = new FileJob(Posix.ToBytes(display), display, stat, node) { Input = input.Data, IsNew = true };
        await _inFlight.TakeAsync(job.Charge, ct).ConfigureAwait(false);
        await _order.Writer.WriteAsync(job, ct).ConfigureAwait(false);
        await _jobs.Writer.WriteAsync(job, ct).ConfigureAwait(false);
        _progress.ScanFinished();
        return CompleteDirAsync("/"u8.ToArray(), "/", [], Posix.LStat("/"u8.ToArray()), [job.Result.Task], onTheWay: true);
    }

    /// <summary>
    /// After the stream was read to its end: a read error or a failed producer fails the backup before the band and
    /// the snapshot are written (packs already uploaded are adopted by the next run, like after a crash).
    /// </summary>
    private async Task CompleteStreamAsync(StreamInput input, CancellationToken ct)
    {
        if (_skipped.TryPeek(out SkippedEntry? failed))
        {
            throw new CommandFailedException($"reading the output of {input.Info.Tool ?? input.Info.Kind} failed after {StreamInput.Size(_bytesRead)}: {failed.Error}; no snapshot was saved");
        }
        await input.CompleteAsync(Interlocked.Read(ref _bytesRead), ct).ConfigureAwait(false);
        Interlocked.Add(ref _bytesTotal, Interlocked.Read(ref _bytesRead));
    }

    /// <summary>A directory on the way to a target: its own metadata, and only the children that lead to targets.</summary>
    private async Task<Task<Node?>> WalkVirtualAsync(string path, byte[] name, PathTrie trie, FileStat st, Tree? parentTree, CancellationToken ct)
    {
        var children = new List<Task<Node?>>();
        foreach (var (childName, childTrie) in trie.Children)
        {
            string childPath = path == "/" ? "/" + childName : path + "/" + childName;
            byte[] childBytes = Encoding.UTF8.GetBytes(childName);
            byte[] childFull = Posix.ToBytes(childPath);
            FileStat cst = Posix.LStat(childFull);
            Node? parentChild = Find(parentTree, childBytes);
            if (childTrie.IsTarget)
            {
                var target = new WalkScope(_options.Filter.TargetScope(childPath), IncludeOnly: false, IsTarget: true);
                children.Add(await VisitAsync(childFull, childPath, childBytes, cst, parentChild, target, ct).ConfigureAwait(false));
            }
            else
            {
                Tree? sub = parentChild?.Subtree is { } s ? await _parents.LoadTreeAsync(s, ct).ConfigureAwait(false) : null;
                children.Add(await WalkVirtualAsync(childPath, childBytes, childTrie, cst, sub, ct).ConfigureAwait(false));
            }
        }
        byte[] full = Posix.ToBytes(path);
        return CompleteDirAsync(full, path, name, st, children, onTheWay: true);
    }

    private static Node? Find(Tree? tree, byte[] name)
    {
        if (tree is null)
        {
            return null;
        }
        var nodes = tree.Nodes;
        int lo = 0, hi = nodes.Count - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            int c = Tree.CompareNames(nodes[mid].Name, name);
            if (c == 0)
            {
                return nodes[mid];
            }
            if (c < 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return null;
    }

    /// <summary>How a folder is walked: the filter scope it was checked in, whether only --include matches are kept in it, whether it is a backed-up path itself.</summary>
    private readonly record struct WalkScope(FilterScope Outer, bool IncludeOnly, bool IsTarget);

    /// <summary>Enumerates one entry (recursively for folders) and returns the task that yields its node once its content is stored.</summary>
    private async Task<Task<Node?>> VisitAsync(byte[] full, string display, byte[] name, FileStat st, Node? parentNode, WalkScope scope, CancellationToken ct)
    {
        switch (st.Kind)
        {
            case FileKind.Directory:
                Tree? sub = parentNode?.Subtree is { } s && parentNode.Kind == FileKind.Directory ? await _parents.LoadTreeAsync(s, ct).ConfigureAwait(false) : null;
                return await WalkDirAsync(full, display, name, st, sub, scope, ct).ConfigureAwait(false);
            case FileKind.Regular:
                return await VisitFileAsync(full, display, name, st, parentNode, ct).ConfigureAwait(false);
            default:
                Node? n = MakeNode(full, display, name, st);
                return Task.FromResult(n);
        }
    }

    private async Task<Task<Node?>> WalkDirAsync(byte[] full, string display, byte[] name, FileStat st, Tree? parentTree, WalkScope walk, CancellationToken ct)
    {
        var children = new List<Task<Node?>>();
        bool descend = !_options.OneFileSystem || st.Device == _rootDevice;
        List<DirEntry> entries = [];
        if (descend)
        {
            try
            {
                entries = Posix.ReadDirectory(full);
            }
            catch (PosixException e)
            {
                Skip(display, e.Message);
                return Task.FromResult<Node?>(null);
            }
        }
        SourceFilter filter = _options.Filter;
        FilterScope? scope = filter.IsEmpty ? walk.Outer : filter.EnterDirectory(walk.Outer, walk.IncludeOnly, display, walk.IsTarget, entries);
        if (scope is null)
        {
            return Task.FromResult<Node?>(null); // a marker file (CACHEDIR.TAG, --exclude-if-present) leaves the folder out
        }
        if (_worm && descend && parentTree is not null)
        {
            await RecordDeletedAsync(display, parentTree, entries, ct).ConfigureAwait(false);
        }
        foreach (DirEntry entry in entries)
        {
            ct.ThrowIfCancellationRequested();
            byte[] childFull = Posix.Join(full, entry.Name);
            string childDisplay = Posix.Display(childFull);
            if (!Posix.TryLStat(childFull, out FileStat cst, out int errno))
            {
                Skip(childDisplay, $"lstat: {Posix.StrError(errno)}");
                continue;
            }
            FilterVerdict verdict = filter.IsEmpty ? FilterVerdict.Keep : filter.Check(scope, childDisplay, Posix.Display(entry.Name), cst);
            if (verdict == FilterVerdict.Drop || (verdict == FilterVerdict.IncludeOnly && cst.Kind != FileKind.Directory))
            {
                continue;
            }
            var childWalk = new WalkScope(scope, verdict == FilterVerdict.IncludeOnly, IsTarget: false);
            Node? parentChild = Find(parentTree, entry.Name);
            if (_worm && parentChild is not null && parentChild.Kind != cst.Kind)
            {
                _wormChanges.Enqueue(new WormChange(childDisplay, WormChange.Replaced, parentChild.Size, cst.Size, WormChange.FromNs(parentChild.MTimeNs), WormChange.FromNs(cst.MTimeNs)));
            }
            children.Add(await VisitAsync(childFull, childDisplay, entry.Name, cst, parentChild, childWalk, ct).ConfigureAwait(false));
        }
        return CompleteDirAsync(full, display, name, st, children, dropIfEmpty: scope.IncludeOnly);
    }

    /// <summary>Worm: every entry of the previous version of this folder that is no longer on disk (files inside a deleted folder one by one).</summary>
    private async Task RecordDeletedAsync(string display, Tree parentTree, List<DirEntry> entries, CancellationToken ct)
    {
        foreach (Node old in parentTree.Nodes)
        {
            if (ContainsName(entries, old.Name))
            {
                continue;
            }
            string path = display == "/" ? "/" + old.DisplayName : display + "/" + old.DisplayName;
            await RecordDeletedNodeAsync(path, old, ct).ConfigureAwait(false);
        }
    }

    private async Task RecordDeletedNodeAsync(string path, Node old, CancellationToken ct)
    {
        if (old.Kind == FileKind.Directory && old.Subtree is { } sub && await _parents.LoadTreeAsync(sub, ct).ConfigureAwait(false) is { } tree && tree.Nodes.Count > 0)
        {
            foreach (Node child in tree.Nodes)
            {
                await RecordDeletedNodeAsync(path + "/" + child.DisplayName, child, ct).ConfigureAwait(false);
            }
            return;
        }
        _wormChanges.Enqueue(new WormChange(path, WormChange.Deleted, old.Kind == FileKind.Regular ? old.Size : null, null, WormChange.FromNs(old.MTimeNs)));
    }

    private static bool ContainsName(List<DirEntry> sorted, byte[] name)
    {
        int lo = 0, hi = sorted.Count - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            int c = sorted[mid].Name.AsSpan().SequenceCompareTo(name);
            if (c == 0)
            {
                return true;
            }
            if (c < 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return false;
    }

    /// <param name="dropIfEmpty">A folder walked only for --include matches is left out when nothing in it was included.</param>
    private async Task<Node?> CompleteDirAsync(byte[] full, string display, byte[] name, FileStat st, List<Task<Node?>> children, bool onTheWay = false, bool dropIfEmpty = false)
    {
        Node?[] nodes = await Task.WhenAll(children).ConfigureAwait(false);
        var list = nodes.Where(n => n is not null).Select(n => n!).ToList();
        if (dropIfEmpty && list.Count == 0)
        {
            return null;
        }
        list.Sort((a, b) => Tree.CompareNames(a.Name, b.Name));
        var tree = new Tree(list);
        BlobId treeId = SaveTree(tree);
        BlobId state = _repo.Keys.IdOf(tree.Encode(forState: true));
        Interlocked.Increment(ref _dirs);
        Node? self = MakeNode(full, display, name, st);
        return self is null ? null : self with { Subtree = treeId, State = state, OnTheWay = onTheWay };
    }

    private Node? MakeNode(byte[] full, string display, byte[] name, FileStat st)
    {
        try
        {
            byte[] target = st.Kind == FileKind.Symlink ? Posix.ReadLink(full) : [];
            var xattrs = Posix.ListXattrs(full).Select(x => new Xattr(x.Name, x.Value)).ToList();
            return new Node
            {
                Name = name,
                Kind = st.Kind,
                Mode = st.Mode,
                Uid = st.Uid,
                Gid = st.Gid,
                User = Posix.UserName(st.Uid) ?? "",
                Group = Posix.GroupName(st.Gid) ?? "",
                MTimeNs = st.MTimeNs,
                CTimeNs = st.CTimeNs,
                ATimeNs = st.ATimeNs,
                Size = st.Kind == FileKind.Regular ? st.Size : 0,
                Inode = st.Inode,
                Device = st.Device,
                Links = st.NLink,
                RDev = st.RDev,
                LinkTarget = target,
                Xattrs = xattrs,
            };
        }
        catch (PosixException e)
        {
            Skip(display, e.Message);
            return null;
        }
    }

    private void Skip(string path, string message)
    {
        _skipped.Enqueue(new SkippedEntry(path, message));
        _progress.ReportError(path, message);
    }

    /// <summary>Queues a changed file for the workers (in walk order) or reuses the parent's content; returns the node's task.</summary>
    private async ValueTask<Task<Node?>> VisitFileAsync(byte[] full, string display, byte[] name, FileStat st, Node? parentNode, CancellationToken ct)
    {
        Node? node = MakeNode(full, display, name, st);
        if (node is null)
        {
            return Task.FromResult<Node?>(null);
        }
        Interlocked.Add(ref _bytesTotal, st.Size);
        if (!_options.Force && parentNode is { Kind: FileKind.Regular } p && p.Size == st.Size && p.MTimeNs == st.MTimeNs && p.CTimeNs == st.CTimeNs
            && p.Inode == st.Inode && !p.ChangedWhileReading && p.Content.All(_repo.Index.Contains))
        {
            Interlocked.Increment(ref _filesUnchanged);
            _progress.FileDone(st.Size);
            return Task.FromResult<Node?>(node with { Content = p.Content, Extents = p.Extents });
        }
        Interlocked.Increment(ref parentNode is null ? ref _filesNew : ref _filesChanged);
        var job = new FileJob(full, display, st, node) { IsNew = parentNode is null, Parent = parentNode, Charge = _inFlight.ChargeFor(st.Size) };
        // Both writes complete before the walk moves on, so completing the channels after the walk loses nothing.
        await _inFlight.TakeAsync(job.Charge, ct).ConfigureAwait(false);
        await _order.Writer.WriteAsync(job, ct).ConfigureAwait(false);
        await _jobs.Writer.WriteAsync(job, ct).ConfigureAwait(false);
        return job.Result.Task;
    }

    // ---------------- workers ----------------

    private sealed class FileJob(byte[] full, string display, FileStat stat, Node node)
    {
        public byte[] Full { get; } = full;
        public string Display { get; } = display;
        public FileStat Stat { get; } = stat;
        /// <summary>Replaced by a tree source's worker with what the read found (before the chunks complete).</summary>
        public Node Node { get; set; } = node;
        public Channel<Chunk> Chunks { get; } = Channel.CreateBounded<Chunk>(new BoundedChannelOptions(2) { SingleReader = true, SingleWriter = true });
        public TaskCompletionSource<Node?> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public string? Error { get; set; }
        /// <summary>Counted as new (else as changed) when queued; a file that then cannot be read is uncounted.</summary>
        public bool IsNew { get; init; }
        /// <summary>The file's node in the previous snapshot, if any (worm sources compare with it).</summary>
        public Node? Parent { get; init; }
        /// <summary>Its charge against <see cref="_inFlight"/>.</summary>
        public long Charge { get; init; }
        public bool Changed { get; set; }
        public long BytesRead { get; set; }
        public List<Extent> Extents { get; set; } = [];
        /// <summary>Read by data regions (holes skipped); a file that is all hole has no regions and no content.</summary>
        public bool Sparse { get; set; }
        /// <summary>A stream backup's data: read sequentially instead of <see cref="Full"/>.</summary>
        public Stream? Input { get; init; }
        /// <summary>A tree source's file, being opened ahead of the workers; null for a file on disk.</summary>
        public Task<TreeSourceRead>? Opening { get; init; }
    }

    /// <summary>One chunk of a file: its id and, when the index does not have it yet, its payload in a rented buffer.</summary>
    private readonly record struct Chunk(BlobId Id, byte[]? Buffer, int Length, bool Compressed, int RawLength);

    private async Task WorkerAsync(CancellationToken ct)
    {
        var chunker = _repo.Chunker;
        byte[] buffer = GC.AllocateUninitializedArray<byte>(FileChunker.BufferSize(chunker));
        using var compressor = new Compression.ZstdCompressor(_repo.Config.Compression.ColdLevel);
        using var sampler = new Compression.ZstdCompressor(1);
        byte[] sample = ArrayPool<byte>.Shared.Rent(Compression.ZstdCompressor.Bound(SampleSize));
        try
        {
            await foreach (FileJob job in _jobs.Reader.ReadAllAsync(ct).ConfigureAwait(false))
            {
                try
                {
                    if (job.Input is { } stream)
                    {
                        await ReadStreamAsync(job, stream, buffer, compressor, sampler, sample, ct).ConfigureAwait(false);
                    }
                    else if (job.Opening is { } opening)
                    {
                        await ReadSourceFileAsync(job, opening, buffer, compressor, sampler, sample, ct).ConfigureAwait(false);
                    }
                    else
                    {
                        await ReadFileAsync(job, buffer, compressor, sampler, sample, ct).ConfigureAwait(false);
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or StoreException)
                {
                    job.Error = e.Message;
                }
                finally
                {
                    job.Chunks.Writer.TryComplete();
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(sample);
        }
    }

    private const int SampleSize = 64 * 1024;

    private async Task ReadFileAsync(FileJob job, byte[] buffer, Compression.ZstdCompressor compressor, Compression.ZstdCompressor sampler, byte[] sample, CancellationToken ct)
    {
        _progress.Reading(job.Display);
        using var handle = Posix.OpenRead(job.Full);
        FileStat before = Posix.FStat(handle);
        if (before.Kind != FileKind.Regular || before.Inode != job.Stat.Inode)
        {
            throw new IOException("the file was replaced before it could be read");
        }
        var (total, extents, sparse) = await FileChunker.ReadAsync(handle, before, _repo.Chunker, buffer,
            chunk => EmitAsync(job, chunk, compressor, sampler, sample, ct)).ConfigureAwait(false);
        job.Sparse = sparse;
        job.Extents = extents;
        job.BytesRead = total;
        Interlocked.Add(ref _bytesRead, total);
        FileStat after = Posix.FStat(handle);
        long expected = sparse ? job.Extents.Sum(e => e.Length) : after.Size;
        if (after.MTimeNs != before.MTimeNs || after.CTimeNs != before.CTimeNs || after.Size != before.Size || total != expected
            || before.Size != job.Stat.Size || before.MTimeNs != job.Stat.MTimeNs)
        {
            job.Changed = true;
        }
    }

    /// <summary>Chunks a stream to its end, like a dense file; progress counts bytes as they arrive.</summary>
    private async Task ReadStreamAsync(FileJob job, Stream input, byte[] buffer, Compression.ZstdCompressor compressor, Compression.ZstdCompressor sampler, byte[] sample, CancellationToken ct)
    {
        _progress.Reading(job.Display);
        long total = 0;
        try
        {
            await FileChunker.ReadStreamAsync(input, _repo.Chunker, buffer, chunk => EmitAsync(job, chunk, compressor, sampler, sample, ct),
                n =>
                {
                    total += n;
                    _progress.Streamed(n);
                }, ct).ConfigureAwait(false);
        }
        finally
        {
            // also when the read fails: the failure message says how far it got
            job.BytesRead = total;
            Interlocked.Add(ref _bytesRead, total);
        }
    }

    private async ValueTask EmitAsync(FileJob job, ReadOnlyMemory<byte> data, Compression.ZstdCompressor compressor, Compression.ZstdCompressor sampler, byte[] sample, CancellationToken ct)
    {
        BlobId id = _repo.Keys.IdOf(data.Span);
        if (_repo.Index.Contains(id) || _pending.ContainsKey(id))
        {
            await job.Chunks.Writer.WriteAsync(new Chunk(id, null, 0, false, data.Length), ct).ConfigureAwait(false);
            return;
        }
        var (buf, len, compressed) = Compress(data.Span, compressor, sampler, sample);
        await job.Chunks.Writer.WriteAsync(new Chunk(id, buf, len, compressed, data.Length), ct).ConfigureAwait(false);
    }

    /// <summary>
    /// zstd, unless a 64 KiB sample shows the data does not compress (media): then the blob is stored raw
    /// without paying for a full compression pass. Returns a rented buffer.
    /// </summary>
    private static (byte[] Buffer, int Length, bool Compressed) Compress(ReadOnlySpan<byte> data, Compression.ZstdCompressor compressor, Compression.ZstdCompressor sampler, byte[] sample)
    {
        bool tryCompress = true;
        if (data.Length > SampleSize * 2)
        {
            int mid = (data.Length / 2) - (SampleSize / 2);
            int n = sampler.Compress(data.Slice(mid, SampleSize), sample);
            tryCompress = n < SampleSize * 0.95;
        }
        if (tryCompress)
        {
            // Only a frame under the data's size is kept, so the output buffer need not hold zstd's worst case: an
            // 8 MiB chunk then rents an 8 MiB buffer, not a 16 MiB one (peak memory of a backup).
            byte[] output = BlobBuffers.Pool.Rent(data.Length);
            int n = compressor.TryCompress(data, output.AsSpan(0, data.Length));
            if (n >= 0 && n < data.Length - (data.Length / 64))
            {
                if (n <= output.Length / 2)
                {
                    // The frame waits in the queue to the sequencer, behind other files: hold it in a buffer its own size
                    // (a DLL's 1 MiB chunk compresses to about 400 KiB), so what waits is the compressed bytes.
                    byte[] fitted = BlobBuffers.Pool.Rent(n);
                    output.AsSpan(0, n).CopyTo(fitted);
                    BlobBuffers.Pool.Return(output);
                    output = fitted;
                }
                return (output, n, true);
            }
            BlobBuffers.Pool.Return(output);
        }
        byte[] raw = BlobBuffers.Pool.Rent(data.Length);
        data.CopyTo(raw);
        return (raw, data.Length, false);
    }

    // ---------------- sequencer ----------------

    private async Task SequencerAsync(CancellationToken ct)
    {
        await foreach (FileJob job in _order.Reader.ReadAllAsync(ct).ConfigureAwait(false))
        {
            try
            {
                await SequenceAsync(job, ct).ConfigureAwait(false);
            }
            finally
            {
                _inFlight.Give(job.Charge);
            }
        }
    }

    private async Task SequenceAsync(FileJob job, CancellationToken ct)
    {
        {
            var ids = new List<BlobId>();
            await foreach (Chunk c in job.Chunks.Reader.ReadAllAsync(ct).ConfigureAwait(false))
            {
                ids.Add(c.Id);
                if (c.Buffer is null)
                {
                    continue;
                }
                try
                {
                    if (!_repo.Index.Contains(c.Id) && _pending.TryAdd(c.Id, 0))
                    {
                        _dataPack ??= NewPack(PackKind.Data);
                        _dataPack.AddInPlace(c.Id, BlobKind.Data, c.Buffer.AsSpan(0, c.Length), c.Compressed, c.RawLength);
                        Interlocked.Add(ref _bytesAdded, c.RawLength);
                        Interlocked.Add(ref _bytesStored, c.Length);
                        Interlocked.Increment(ref _blobsAdded);
                        _progress.Added(c.RawLength);
                        if (_dataPack.Length >= _repo.Config.Packs.ColdTargetSize)
                        {
                            FinishPack(ref _dataPack);
                        }
                    }
                }
                finally
                {
                    BlobBuffers.Pool.Return(c.Buffer);
                }
            }
            if (job.Error is not null)
            {
                // Not in the snapshot, so not in its totals either: the summary counts what was backed up.
                Interlocked.Decrement(ref job.IsNew ? ref _filesNew : ref _filesChanged);
                Interlocked.Add(ref _bytesTotal, -job.Stat.Size);
                Skip(job.Display, job.Error);
                job.Result.TrySetResult(null);
                return;
            }
            if (_worm && job.Parent is { Kind: FileKind.Regular } before)
            {
                CompareWorm(job, before, ids);
            }
            if (job.Changed)
            {
                _changed.Enqueue(job.Display);
                _progress.ReportChanged(job.Display);
            }
            // a stream's bytes were counted as they arrived
            _progress.FileDone(job.Input is null && job.Opening is null ? job.BytesRead : 0);
            job.Result.TrySetResult(job.Node with
            {
                Content = ids,
                Extents = job.Extents,
                Size = job.Sparse ? job.Stat.Size : job.BytesRead,
                ChangedWhileReading = job.Changed,
            });
        }
    }

    /// <summary>Worm: a file that was read again (its metadata differs, or --force) is compared with its previous version.</summary>
    private void CompareWorm(FileJob job, Node before, List<BlobId> ids)
    {
        FileStat now = job.Stat;
        bool contentChanged = !ids.SequenceEqual(before.Content) || !job.Extents.SequenceEqual(before.Extents) || before.Size != now.Size;
        bool metadataChanged = before.MTimeNs != now.MTimeNs || before.Mode != now.Mode || before.Uid != now.Uid || before.Gid != now.Gid;
        if (!contentChanged && !metadataChanged)
        {
            return;
        }
        _wormChanges.Enqueue(new WormChange(job.Display, contentChanged ? WormChange.Modified : WormChange.Metadata,
            before.Size, now.Size, WormChange.FromNs(before.MTimeNs), WormChange.FromNs(now.MTimeNs), contentChanged));
    }

    private PackWriter NewPack(PackKind kind) => new(Path.Combine(_staging, $"pack-{Guid.NewGuid():N}"), kind, _repo.Keys);

    private void FinishPack(ref PackWriter? pack)
    {
        if (pack is null || pack.Count == 0)
        {
            return;
        }
        FinishedPack done = pack.Finish();
        pack.Dispose();
        pack = null;
        // Blobs become visible to dedup at once; the index segment is written only after every upload finished.
        _repo.Index.AddPack(done.Id, done.Kind, done.Length, done.Entries);
        foreach (var e in done.Entries)
        {
            _pending.TryRemove(e.Id, out _);
        }
        Interlocked.Increment(ref _packsAdded);
        if (!_uploads.Writer.TryWrite(done))
        {
            _uploads.Writer.WriteAsync(done).AsTask().GetAwaiter().GetResult();
        }
    }

    private BlobId SaveTree(Tree tree)
    {
        byte[] data = tree.Encode();
        BlobId id = _repo.Keys.IdOf(data);
        lock (_treeLock)
        {
            if (!_repo.Index.Contains(id) && !(_treePack?.Contains(id) ?? false))
            {
                AddBlob(ref _treePack, PackKind.Tree, id, BlobKind.Tree, data, _repo.Config.Compression.WarmLevel, force: false);
                if (_treePack!.Length >= _repo.Config.Packs.WarmTargetSize)
                {
                    FinishPack(ref _treePack);
                }
            }
            if (_bandTrees.Add(id, data) && _bandTrees.IsFull)
            {
                AddBandTrees();
            }
        }
        _parents.CacheTree(id, data);
        return id;
    }

    /// <summary>Adds the trees bundled since the last call to the band pack as one blob (call with <see cref="_treeLock"/> held).</summary>
    private void AddBandTrees()
    {
        if (!_bandTrees.IsEmpty)
        {
            byte[] bundle = _bandTrees.Take();
            AddBlob(ref _bandPack, PackKind.Band, _repo.Keys.IdOf(bundle), BlobKind.TreeBundle, bundle, _repo.Config.Compression.ColdLevel, force: true);
        }
    }

    private void AddBlob(ref PackWriter? pack, PackKind kind, BlobId id, BlobKind blobKind, byte[] data, int level, bool force)
    {
        pack ??= NewPack(kind);
        using var c = new Compression.ZstdCompressor(level);
        byte[] compressed = c.Compress(data);
        bool useCompressed = compressed.Length < data.Length;
        pack.Add(id, blobKind, useCompressed ? compressed : data, useCompressed, data.Length);
        _ = force;
    }

    // ---------------- upload ----------------

    private async Task UploaderAsync(CancellationToken ct)
    {
        await foreach (FinishedPack pack in _uploads.Reader.ReadAllAsync(ct).ConfigureAwait(false))
        {
            var entries = await PackUpload.UploadAsync(_repo.Store, pack, ct).ConfigureAwait(false);
            lock (_written)
            {
                _written.Add(entries);
            }
        }
    }

    // ---------------- scanner (totals for the ETA) ----------------

    private void Scan(List<string> paths, CancellationToken ct)
    {
        SourceFilter filter = _options.Filter;
        var stack = new Stack<(byte[] Path, WalkScope Walk)>(paths.Select(p => (Posix.ToBytes(p), new WalkScope(filter.TargetScope(p), false, true))));
        long files = 0, bytes = 0;
        while (stack.Count > 0 && !ct.IsCancellationRequested)
        {
            var (p, walk) = stack.Pop();
            if (!Posix.TryLStat(p, out FileStat st, out _))
            {
                continue;
            }
            if (st.Kind == FileKind.Directory)
            {
                try
                {
                    var entries = Posix.ReadDirectory(p);
                    string display = Posix.Display(p);
                    FilterScope? scope = filter.IsEmpty ? walk.Outer : filter.EnterDirectory(walk.Outer, walk.IncludeOnly, display, walk.IsTarget, entries);
                    if (scope is null)
                    {
                        continue;
                    }
                    foreach (var e in entries)
                    {
                        byte[] child = Posix.Join(p, e.Name);
                        FilterVerdict verdict = FilterVerdict.Keep;
                        if (!filter.IsEmpty)
                        {
                            if (!Posix.TryLStat(child, out FileStat cst, out _))
                            {
                                continue;
                            }
                            verdict = filter.Check(scope, Posix.Display(child), Posix.Display(e.Name), cst);
                        }
                        if (verdict != FilterVerdict.Drop)
                        {
                            stack.Push((child, new WalkScope(scope, verdict == FilterVerdict.IncludeOnly, false)));
                        }
                    }
                }
                catch (PosixException)
                {
                }
            }
            else if (st.Kind == FileKind.Regular && !walk.IncludeOnly)
            {
                files++;
                bytes += st.Size;
                if (files % 1000 == 0)
                {
                    _progress.Scanned(files, bytes);
                    files = bytes = 0;
                }
            }
        }
        _progress.Scanned(files, bytes);
        _progress.ScanFinished();
    }
}
