using System.Collections.Concurrent;
using System.Threading.Channels;
using Strata.Archiver;
using Strata.Crypto;
using Strata.Platform;
using Strata.Repository;
using Strata.Snapshots;

namespace Strata.Restorer;

public sealed record RestoreOptions
{
    public required string Target { get; init; }
    /// <summary>Restore only paths matching one of these globs (or under a matching folder). Empty: everything.</summary>
    public ExcludeMatcher Includes { get; init; } = new([]);
    public ExcludeMatcher Excludes { get; init; } = new([]);
    public int Workers { get; init; } = 8;
    /// <summary>Restore owners (needs root); by default on when running as root.</summary>
    public bool RestoreOwners { get; init; } = Posix.GetEuid() == 0;
    /// <summary>
    /// Cold packs that can be read now. Null: every pack (no cold tier, or reads need no thaw). When set, a file whose
    /// content needs a cold pack outside the set is not touched and is counted as deferred, so a cold restore can
    /// write each file as soon as its packs are thawed and leave the rest for a later pass.
    /// </summary>
    public IReadOnlySet<BlobId>? ReadablePacks { get; init; }
    /// <summary>
    /// Skip a file that already exists in the target as a regular file with the node's size and mtime: a restore that
    /// is run again (after a thaw, a crash, a restart) picks up where it stopped. Safe because a file's mtime is set
    /// only after all of its bytes were written.
    /// </summary>
    public bool SkipComplete { get; init; }
    /// <summary>
    /// Write each file unnamed (O_TMPFILE) and link it under its name once all its bytes are written (owner, mode, xattrs
    /// and times follow through the open file), where the target's file system offers it (probed once per restore);
    /// otherwise files are created by name. On by default.
    /// </summary>
    public bool UnnamedFiles { get; init; } = true;
    /// <summary>
    /// Write files of <see cref="Restorer.DirectMinimum"/> bytes and more past the page cache (O_DIRECT in 1 MiB blocks,
    /// the last partial block buffered), where the target's file system takes it (probed once per restore). On by default.
    /// </summary>
    public bool DirectWrites { get; init; } = true;
}

public sealed record RestoreFailure(string Path, string Error);

/// <param name="Deferred">Files not written because a cold pack they need is not readable yet (<see cref="RestoreOptions.ReadablePacks"/>).</param>
/// <param name="DeferredBytes">Their total size.</param>
/// <param name="SkippedComplete">Files already complete in the target and left alone (<see cref="RestoreOptions.SkipComplete"/>).</param>
public sealed record RestoreResult(
    long Files,
    long Directories,
    long Bytes,
    IReadOnlyList<RestoreFailure> Failures,
    long Deferred = 0,
    long DeferredBytes = 0,
    long SkippedComplete = 0);

/// <summary>Restore progress counters for the CLI.</summary>
public sealed class RestoreProgress
{
    private long _files;
    private long _bytes;

    public long FilesDone => Interlocked.Read(ref _files);
    public long BytesDone => Interlocked.Read(ref _bytes);
    public long FilesTotal { get; internal set; }
    public long BytesTotal { get; internal set; }

    internal void File(long bytes)
    {
        Interlocked.Increment(ref _files);
        Interlocked.Add(ref _bytes, bytes);
    }
}

/// <summary>
/// Which entries of a snapshot a restore selects; shared by <see cref="Restorer"/> and <see cref="RestorePlanner"/> so the
/// plan names exactly the files the restore writes.
/// </summary>
internal static class RestoreSelection
{
    /// <summary>Names that could escape the target ("", ".", "..", anything with '/', a NUL) are refused.</summary>
    public static bool IsSafeName(byte[] name) =>
        name.Length > 0 && !(name.Length == 1 && name[0] == (byte)'.') && !(name.Length == 2 && name[0] == (byte)'.' && name[1] == (byte)'.')
        && Array.IndexOf(name, (byte)'/') < 0 && Array.IndexOf(name, (byte)0) < 0;

    /// <summary>
    /// Whether the entry at <paramref name="display"/> is restored: not excluded, and either no includes are given, its
    /// folder is selected, or an include matches it. <paramref name="descend"/> is false for an excluded folder.
    /// </summary>
    public static bool Selected(ExcludeMatcher includes, ExcludeMatcher excludes, string display, bool parentSelected, out bool descend)
    {
        descend = true;
        if (!excludes.IsEmpty && excludes.IsExcluded(display))
        {
            descend = false;
            return false;
        }
        if (includes.IsEmpty || parentSelected)
        {
            return true;
        }
        return includes.IsExcluded(display);
    }
}

/// <summary>
/// Recreates a snapshot's absolute paths under a target folder, as restic does. The tree walk creates folders
/// and queues files; workers fetch, verify (every blob is authenticated and its keyed id checked) and write
/// them in parallel (each file unnamed, linked under its name once written, where the file system allows);
/// hard links, symlinks and folder metadata follow, folders deepest first so their times stick. Names that could
/// escape the target ("", ".", "..", anything with '/', a NUL) are refused, files are created (or linked) without
/// following symlinks, and symlinks are created last, so no entry can redirect a later write.
/// A file that cannot be restored (a damaged blob, say) is listed and the rest continue.
/// From a cold tier a restore runs in passes (<see cref="RestoreOptions.ReadablePacks"/>,
/// <see cref="RestoreOptions.SkipComplete"/>): each pass writes the files whose packs are thawed, defers the rest and
/// skips what an earlier pass finished; folders holding deferred files get their metadata in the pass that completes them.
/// </summary>
public sealed class Restorer
{
    private readonly Repo _repo;
    private readonly RestoreOptions _options;
    private readonly RestoreProgress _progress;
    private readonly ConcurrentQueue<RestoreFailure> _failures = new();
    private readonly List<(byte[] Path, Node Node)> _dirs = [];
    private readonly List<(byte[] Path, Node Node)> _symlinks = [];
    private readonly List<(byte[] Path, Node Node, string Display)> _links = [];
    private readonly Dictionary<(ulong, ulong), byte[]> _firstLink = [];
    private readonly HashSet<(ulong, ulong)> _deferredLinks = [];
    private readonly HashSet<string> _deferredDirs = new(StringComparer.Ordinal);
    private long _files, _bytes, _deferred, _deferredBytes, _skipped;

    public Restorer(Repo repo, RestoreOptions options, RestoreProgress? progress = null)
    {
        _repo = repo;
        _options = options;
        _progress = progress ?? new RestoreProgress();
    }

    public async Task<RestoreResult> RunAsync(Snapshot snapshot, CancellationToken ct)
    {
        _repo.RequireOwner("restore");
        string target = Path.GetFullPath(_options.Target);
        Directory.CreateDirectory(target);
        byte[] targetBytes = Posix.ToBytes(target);
        _unnamed = _options.UnnamedFiles && ProbeUnnamed(targetBytes, out _linkByDescriptor);
        _direct = _options.DirectWrites && DirectWriter.Probe(targetBytes);
        var files = Channel.CreateBounded<FileJob>(256);
        _queued = files.Reader;
        var workers = Enumerable.Range(0, _options.Workers).Select(_ => Task.Run(async () =>
        {
            await foreach (var f in files.Reader.ReadAllAsync(ct).ConfigureAwait(false))
            {
                if (f.Unnamed is not null)
                {
                    Interlocked.Decrement(ref _aheadCount);
                }
                try
                {
                    await RestoreFileAsync(f, ct).ConfigureAwait(false);
                }
                finally
                {
                    f.Folder?.DangerousRelease();
                }
            }
        }, ct)).ToList();
        try
        {
            Tree root = await _repo.LoadTreeAsync(BlobId.Parse(snapshot.Tree), ct).ConfigureAwait(false);
            await WalkAsync(root, targetBytes, "", false, files.Writer, ct).ConfigureAwait(false);
        }
        finally
        {
            files.Writer.Complete();
            try
            {
                await Task.WhenAll(workers).ConfigureAwait(false);
            }
            finally
            {
                while (files.Reader.TryRead(out FileJob left))
                {
                    left.Unnamed?.Dispose(); // cancelled: files made ahead that no worker took
                    left.Folder?.DangerousRelease();
                }
            }
            while (_writers.TryTake(out DirectWriter? w))
            {
                w.Dispose();
            }
        }
        foreach (var (path, node, display) in _links)
        {
            if (_deferredLinks.Contains((node.Device, node.Inode)))
            {
                Defer(path, node.Size);
                continue;
            }
            try
            {
                if (_firstLink.TryGetValue((node.Device, node.Inode), out byte[]? first) && first != path)
                {
                    if (Posix.TryLStat(path, out FileStat have, out _) && Posix.TryLStat(first, out FileStat want, out _)
                        && have.Inode == want.Inode && have.Device == want.Device)
                    {
                        continue; // linked by an earlier pass of the same restore
                    }
                    RemoveExisting(path);
                    Posix.HardLink(first, path);
                }
            }
            catch (PosixException e)
            {
                _failures.Enqueue(new RestoreFailure(display, e.Message));
            }
        }
        foreach (var (path, node) in _symlinks)
        {
            try
            {
                Posix.Symlink(node.LinkTarget, path);
                ApplyMetadata(path, node);
            }
            catch (PosixException e)
            {
                _failures.Enqueue(new RestoreFailure(Posix.Display(path), e.Message));
            }
        }
        for (int i = _dirs.Count - 1; i >= 0; i--)
        {
            if (_deferredDirs.Contains(Convert.ToBase64String(_dirs[i].Path)))
            {
                continue; // a later pass writes into it; its mode and times are applied then
            }
            try
            {
                ApplyMetadata(_dirs[i].Path, _dirs[i].Node);
            }
            catch (PosixException e)
            {
                _failures.Enqueue(new RestoreFailure(Posix.Display(_dirs[i].Path), e.Message));
            }
        }
        return new RestoreResult(_files, _dirs.Count, _bytes, [.. _failures], _deferred, _deferredBytes, _skipped);
    }

    /// <summary>A file left for a later pass: its folders keep their restore-time mode so that pass can write into them.</summary>
    private void Defer(byte[] path, long size)
    {
        _deferred++;
        _deferredBytes += size;
        for (int slash = Array.LastIndexOf(path, (byte)'/'); slash > 0; slash = Array.LastIndexOf(path, (byte)'/', slash - 1))
        {
            if (!_deferredDirs.Add(Convert.ToBase64String(path, 0, slash)))
            {
                break;
            }
        }
    }

    /// <summary>True when a cold pack the node's content needs is outside <see cref="RestoreOptions.ReadablePacks"/>.</summary>
    private bool NeedsUnreadablePack(Node node)
    {
        if (_options.ReadablePacks is not { } readable)
        {
            return false;
        }
        foreach (BlobId id in node.Content)
        {
            if (_repo.Index.TryGet(id, out Index.IndexEntry e))
            {
                Index.PackRecord pack = _repo.Index.PackOf(e);
                if (pack.ObjectName.Tier == Stores.Tier.Cold && !readable.Contains(pack.Id))
                {
                    return true;
                }
            }
        }
        return false;
    }

    /// <summary>A file a restore finished: regular, with the node's size and mtime (the mtime is set only after all its bytes).</summary>
    internal static bool IsComplete(byte[] path, Node node) =>
        Posix.TryLStat(path, out FileStat st, out _) && st.Kind == FileKind.Regular && st.Size == node.Size && st.MTimeNs == node.MTimeNs;

    private bool Selected(string display, bool parentSelected, out bool descend) =>
        RestoreSelection.Selected(_options.Includes, _options.Excludes, display, parentSelected, out descend);

    private async Task WalkAsync(Tree tree, byte[] dir, string display, bool selectedParent, ChannelWriter<FileJob> files, CancellationToken ct)
    {
        var seen = new HashSet<byte[]>(ByteArrayComparer.Instance);
        using var folder = new OpenedFolder(dir); // closed when the last of its files is linked (each job holds a reference)
        foreach (Node node in tree.Nodes)
        {
            string childDisplay = display + "/" + node.DisplayName;
            if (!RestoreSelection.IsSafeName(node.Name) || !seen.Add(node.Name))
            {
                _failures.Enqueue(new RestoreFailure(childDisplay, "refused: the entry's name would escape the target folder or repeats a name"));
                continue;
            }
            bool selected = Selected(childDisplay, selectedParent, out bool descend);
            if (!descend)
            {
                continue;
            }
            byte[] path = Posix.Join(dir, node.Name);
            switch (node.Kind)
            {
                case FileKind.Directory:
                    if (node.Subtree is not { } sub)
                    {
                        continue;
                    }
                    Tree child;
                    try
                    {
                        child = await _repo.LoadTreeAsync(sub, ct).ConfigureAwait(false);
                    }
                    catch (CorruptionException e)
                    {
                        _failures.Enqueue(new RestoreFailure(childDisplay, e.Message));
                        continue;
                    }
                    if (selected)
                    {
                        EnsureDir(path);
                        _dirs.Add((path, node));
                    }
                    else if (_options.Includes.IsEmpty)
                    {
                        continue;
                    }
                    await WalkAsync(child, path, childDisplay, selected, files, ct).ConfigureAwait(false);
                    break;
                case FileKind.Regular:
                    if (!selected)
                    {
                        continue;
                    }
                    EnsureParents(path);
                    if (node.IsHardLinked)
                    {
                        if (_firstLink.ContainsKey((node.Device, node.Inode)))
                        {
                            _links.Add((path, node, childDisplay));
                            continue;
                        }
                        _firstLink[(node.Device, node.Inode)] = path;
                    }
                    if (_options.SkipComplete && IsComplete(path, node))
                    {
                        _skipped++;
                        continue;
                    }
                    if (NeedsUnreadablePack(node))
                    {
                        if (node.IsHardLinked)
                        {
                            _deferredLinks.Add((node.Device, node.Inode));
                        }
                        Defer(path, node.Size);
                        continue;
                    }
                    _progress.FilesTotal++;
                    _progress.BytesTotal += node.Size;
                    Microsoft.Win32.SafeHandles.SafeFileHandle? handle = _unnamed ? folder.Handle : null;
                    var job = new FileJob(path, node, childDisplay, CreateAhead(dir, handle), Share(handle));
                    try
                    {
                        await files.WriteAsync(job, ct).ConfigureAwait(false);
                    }
                    catch
                    {
                        job.Unnamed?.Dispose(); // cancelled while waiting for room in the queue
                        job.Folder?.DangerousRelease();
                        throw;
                    }
                    break;
                case FileKind.Symlink:
                    if (selected)
                    {
                        EnsureParents(path);
                        RemoveExisting(path);
                        _symlinks.Add((path, node));
                    }
                    break;
                default:
                    if (selected)
                    {
                        EnsureParents(path);
                        try
                        {
                            RemoveExisting(path);
                            Posix.MkNod(path, node.Kind, node.Mode, node.RDev);
                            ApplyMetadata(path, node);
                        }
                        catch (PosixException e)
                        {
                            _failures.Enqueue(new RestoreFailure(childDisplay, e.Message));
                        }
                    }
                    break;
            }
        }
    }

    // Folders this restore made or found (walker thread only): a file's parent in here needs no lstat.
    private readonly HashSet<byte[]> _made = new(ByteArrayComparer.Instance);

    private void EnsureDir(byte[] path)
    {
        if (_made.Add(path))
        {
            if (Posix.TryLStat(path, out FileStat st, out _) && st.Kind != FileKind.Directory)
            {
                Posix.Unlink(path);
            }
            Posix.Mkdir(path, 448 /* 0700 */);
        }
    }

    private void EnsureParents(byte[] path)
    {
        int slash = Array.LastIndexOf(path, (byte)'/');
        if (slash > 0)
        {
            byte[] parent = path[..slash];
            if (_made.Contains(parent))
            {
                return;
            }
            if (Posix.TryLStat(parent, out _, out _))
            {
                _made.Add(parent);
                return;
            }
            EnsureParents(parent);
            EnsureDir(parent);
        }
    }

    private static void RemoveExisting(byte[] path)
    {
        if (Posix.TryLStat(path, out FileStat st, out _) && st.Kind != FileKind.Directory)
        {
            Posix.Unlink(path);
        }
    }

    /// <summary>
    /// Creates the file without following a symlink; whatever is in the way (an earlier restore's file, a symlink, a
    /// device) is removed first. The common case, a path that does not exist yet, costs one open.
    /// </summary>
    private static Microsoft.Win32.SafeHandles.SafeFileHandle CreateFile(byte[] path)
    {
        try
        {
            return Posix.CreateNew(path, 384 /* 0600 */);
        }
        catch (PosixException e) when (e.Errno == 17 /* EEXIST */)
        {
            RemoveExisting(path);
            return Posix.CreateNew(path, 384 /* 0600 */);
        }
    }

    /// <summary>
    /// Whether files are written unnamed (O_TMPFILE) and linked into place when complete. Creating a named file holds its
    /// folder's lock while the file system picks an inode, and on ext4 without a journal that search skips every
    /// recently deleted inode one by one (milliseconds per file after a large delete), so parallel workers queue on the
    /// folder; an unnamed file takes no folder lock until the quick link at the end. A half-written file is never
    /// visible under its name either. Decided once per restore by linking a probe file in the target.
    /// </summary>
    private bool _unnamed;

    /// <summary>Whether unnamed files are linked by descriptor (AT_EMPTY_PATH, when the process may) or through /proc.</summary>
    private bool _linkByDescriptor;

    private static bool ProbeUnnamed(byte[] target, out bool byDescriptor)
    {
        byDescriptor = false;
        try
        {
            using var h = Posix.TryCreateUnnamed(target, 384 /* 0600 */);
            if (h is null)
            {
                return false;
            }
            byte[] probe = Posix.Join(target, Posix.ToBytes($".strata-restore-probe-{Environment.ProcessId}-{Guid.NewGuid():N}"));
            try
            {
                byDescriptor = Posix.TryLinkUnnamed(h, probe, byDescriptor: true);
            }
            catch (PosixException e) when (e.IsNotFound) // no CAP_DAC_READ_SEARCH
            {
            }
            if (!byDescriptor && !Posix.TryLinkUnnamed(h, probe))
            {
                return false;
            }
            Posix.Unlink(probe);
            return true;
        }
        catch (PosixException)
        {
            return false; // no /proc, a file system that refuses the link: named files it is
        }
    }

    /// <summary>
    /// Gives an unnamed file its name, replacing whatever non-folder is in the way; by its name in
    /// <paramref name="folder"/> when the walker opened it.
    /// </summary>
    private void Publish(Microsoft.Win32.SafeHandles.SafeFileHandle h, byte[] path, Microsoft.Win32.SafeHandles.SafeFileHandle? folder)
    {
        byte[] name = folder is null ? path : path[(Array.LastIndexOf(path, (byte)'/') + 1)..];
        if (!Posix.TryLinkUnnamed(h, name, _linkByDescriptor, folder))
        {
            RemoveExisting(path);
            if (!Posix.TryLinkUnnamed(h, name, _linkByDescriptor, folder))
            {
                throw new PosixException(17 /* EEXIST */, "linkat", Posix.Display(path));
            }
        }
    }

    /// <summary>
    /// The folder a walker is filling, opened (O_PATH) when its first file is queued, so that making and naming each of
    /// its files does not walk the whole path again (about 2% of a restore's CPU on /usr/share/dotnet went to path
    /// lookups). <see cref="Handle"/> is null when it cannot be opened: the files then go by path.
    /// </summary>
    private sealed class OpenedFolder(byte[] path) : IDisposable
    {
        private Microsoft.Win32.SafeHandles.SafeFileHandle? _handle;
        private bool _tried;

        public Microsoft.Win32.SafeHandles.SafeFileHandle? Handle
        {
            get
            {
                if (!_tried)
                {
                    _tried = true;
                    try
                    {
                        _handle = Posix.OpenFolderPath(path);
                    }
                    catch (PosixException)
                    {
                    }
                }
                return _handle;
            }
        }

        public void Dispose() => _handle?.Dispose();
    }

    /// <summary>A reference to the folder for one job (released by whoever ends the job), so it stays open until then.</summary>
    private static Microsoft.Win32.SafeHandles.SafeFileHandle? Share(Microsoft.Win32.SafeHandles.SafeFileHandle? folder)
    {
        if (folder is null)
        {
            return null;
        }
        bool added = false;
        folder.DangerousAddRef(ref added);
        return added ? folder : null;
    }

    /// <summary>A file for the workers, with its unnamed file when the walker made it ahead (<see cref="CreateAhead"/>).</summary>
    private readonly record struct FileJob(
        byte[] Path, Node Node, string Display, Microsoft.Win32.SafeHandles.SafeFileHandle? Unnamed, Microsoft.Win32.SafeHandles.SafeFileHandle? Folder);

    /// <summary>At most this many files made ahead and not yet taken by a worker (each holds a descriptor).</summary>
    private const int AheadLimit = 64;
    private int _aheadCount;

    /// <summary>The files queued for the workers (the walker looks at how many wait).</summary>
    private ChannelReader<FileJob>? _queued;

    /// <summary>
    /// Makes a file's unnamed file on the walker thread, ahead of the worker that fills it: picking an inode is the one
    /// step of a file's restore that the file system serializes (and on ext4 without a journal it skips every recently
    /// deleted inode one by one, each a lookup under a lock all cores share), so done on one thread it overlaps the
    /// workers' decrypting and decompressing instead of making them queue and contend. Alternating restores of
    /// /usr/share/dotnet: 1.37 -> 1.30 s, and about 5% less wall time right after 40,000 files were deleted next to
    /// the target (bench/README.md). Null (the worker makes its own file) when files are named, when
    /// <see cref="AheadLimit"/> are waiting, when fewer files are queued than there are workers, or when this one fails
    /// (the worker then meets and reports the error).
    /// <para>
    /// The queue check: when making a file is slow (after a large deletion, up to a millisecond each), a walker that
    /// made every file would be the one thread making them while the workers wait for work; a short queue means the
    /// workers are catching up, so the walker hands them files to make themselves, in parallel. Alternating restores of
    /// /usr/share/dotnet right after 40,000 files were deleted next to the target: 2.28 against 2.43 s (five rounds),
    /// 2.48 against 2.62 s (four); in a good state 1.41 against 1.46 s.
    /// </para>
    /// </summary>
    private Microsoft.Win32.SafeHandles.SafeFileHandle? CreateAhead(byte[] dir, Microsoft.Win32.SafeHandles.SafeFileHandle? folder)
    {
        if (!_unnamed || Volatile.Read(ref _aheadCount) >= AheadLimit || _queued!.Count < _options.Workers)
        {
            return null;
        }
        try
        {
            var h = CreateUnnamed(dir, folder);
            if (h is not null)
            {
                Interlocked.Increment(ref _aheadCount);
            }
            return h;
        }
        catch (PosixException)
        {
            return null;
        }
    }

    /// <summary>An unnamed file (0600) in <paramref name="dir"/>, through the walker's open folder when there is one.</summary>
    private static Microsoft.Win32.SafeHandles.SafeFileHandle? CreateUnnamed(byte[] dir, Microsoft.Win32.SafeHandles.SafeFileHandle? folder) =>
        folder is null ? Posix.TryCreateUnnamed(dir, 384 /* 0600 */) : Posix.TryCreateUnnamed(folder, dir, 384 /* 0600 */);

    private async Task RestoreFileAsync(FileJob job, CancellationToken ct)
    {
        (byte[] path, Node node, string display, var ahead, var folder) = job;
        try
        {
            var unnamed = ahead ?? (_unnamed ? CreateUnnamed(path[..Array.LastIndexOf(path, (byte)'/')], folder) : null);
            using (var h = unnamed ?? CreateFile(path))
            {
                long written = _direct && node.Extents.Count == 0 && node.Size >= DirectMinimum
                    ? await WriteDirectAsync(h, node, display, ct).ConfigureAwait(false)
                    : await WriteBufferedAsync(h, node, ct).ConfigureAwait(false);
                if (node.Extents.Count > 0 || written != node.Size)
                {
                    Posix.FTruncate(h, node.Size);
                }
                Interlocked.Add(ref _bytes, written);
                if (unnamed is not null)
                {
                    // Linked while still ours and 0600: protected_hardlinks would refuse a file already given to
                    // another owner (or made setuid) to a process without CAP_FOWNER.
                    Publish(h, path, folder);
                }
                // Metadata through the open file (no path lookups); the mtime is still set after every byte is written.
                ApplyMetadata(h, node, display);
            }
            Interlocked.Increment(ref _files);
            _progress.File(node.Size);
        }
        catch (Exception e) when (e is CorruptionException or IOException or Stores.StoreException)
        {
            _failures.Enqueue(new RestoreFailure(display, e.Message));
        }
    }

    /// <summary>Writes a file's content through the page cache, holes and all; returns the bytes written.</summary>
    private async Task<long> WriteBufferedAsync(Microsoft.Win32.SafeHandles.SafeFileHandle h, Node node, CancellationToken ct)
    {
        long written = 0;
        int extent = 0;
        long extentPos = 0;
        foreach (BlobId id in node.Content)
        {
            using PooledBlob blob = await _repo.ReadBlobPooledAsync(id, ct).ConfigureAwait(false);
            ReadOnlySpan<byte> data = blob.Span;
            // Synchronous writes: this already runs on a worker, and an async write to a file opened without
            // O_DIRECT/io_uring would only queue the same pwrite to another pool thread.
            if (node.Extents.Count == 0)
            {
                RandomAccess.Write(h, data, written);
                written += data.Length;
            }
            else
            {
                int at = 0;
                while (at < data.Length && extent < node.Extents.Count)
                {
                    Extent e = node.Extents[extent];
                    int n = (int)Math.Min(data.Length - at, e.Length - extentPos);
                    RandomAccess.Write(h, data.Slice(at, n), e.Offset + extentPos);
                    at += n;
                    extentPos += n;
                    written += n;
                    if (extentPos == e.Length)
                    {
                        extent++;
                        extentPos = 0;
                    }
                }
            }
        }
        return written;
    }

    /// <summary>Files at least this large are written past the page cache (<see cref="RestoreOptions.DirectWrites"/>).</summary>
    public const long DirectMinimum = 64 * 1024;

    private volatile bool _direct;
    private readonly ConcurrentBag<DirectWriter> _writers = [];

    /// <summary>
    /// Writes a file's content with a <see cref="DirectWriter"/> (one per worker, reused); returns the bytes written. A file
    /// system that refuses direct writes gets this file and every later one through the page cache.
    /// </summary>
    private async Task<long> WriteDirectAsync(Microsoft.Win32.SafeHandles.SafeFileHandle h, Node node, string display, CancellationToken ct)
    {
        DirectWriter w = _writers.TryTake(out DirectWriter? pooled) ? pooled : new DirectWriter();
        try
        {
            if (!w.Begin(h, display))
            {
                _direct = false;
                return await WriteBufferedAsync(h, node, ct).ConfigureAwait(false);
            }
            foreach (BlobId id in node.Content)
            {
                using PooledBlob blob = await _repo.ReadBlobPooledAsync(id, ct).ConfigureAwait(false);
                w.Append(blob.Span);
            }
            long written = w.Finish();
            if (w.Refused)
            {
                _direct = false; // an aligned write was refused: the rest of the restore goes through the page cache
            }
            return written;
        }
        finally
        {
            _writers.Add(w);
        }
    }

    private void ApplyMetadata(Microsoft.Win32.SafeHandles.SafeFileHandle h, Node node, string display)
    {
        foreach (Xattr x in node.Xattrs)
        {
            try
            {
                Posix.FSetXattr(h, x.Name, x.Value, display);
            }
            catch (PosixException e) when (e.IsPermissionDenied || e.Errno == 95)
            {
                // not permitted here (e.g. trusted.* as a normal user, or no xattr support): contents still restored
            }
        }
        if (_options.RestoreOwners)
        {
            Posix.FChown(h, OwnerUid(node), OwnerGid(node), display);
        }
        Posix.FChmod(h, node.Mode, display);
        Posix.FSetTimes(h, node.ATimeNs, node.MTimeNs, display);
    }

    private static uint OwnerUid(Node node) => (node.User.Length > 0 ? Posix.UserId(node.User) : null) ?? node.Uid;

    private static uint OwnerGid(Node node) => (node.Group.Length > 0 ? Posix.GroupId(node.Group) : null) ?? node.Gid;

    private void ApplyMetadata(byte[] path, Node node)
    {
        foreach (Xattr x in node.Xattrs)
        {
            try
            {
                Posix.SetXattr(path, x.Name, x.Value);
            }
            catch (PosixException e) when (e.IsPermissionDenied || e.Errno == 95)
            {
                // not permitted here (e.g. trusted.* as a normal user, or no xattr support): contents still restored
            }
        }
        if (_options.RestoreOwners)
        {
            Posix.LChown(path, OwnerUid(node), OwnerGid(node));
        }
        if (node.Kind != FileKind.Symlink)
        {
            Posix.Chmod(path, node.Mode);
        }
        Posix.SetTimes(path, node.ATimeNs, node.MTimeNs);
    }
}

/// <summary>Byte-wise equality for paths held as byte arrays.</summary>
internal sealed class ByteArrayComparer : IEqualityComparer<byte[]>
{
    public static readonly ByteArrayComparer Instance = new();

    public bool Equals(byte[]? x, byte[]? y) => ReferenceEquals(x, y) || (x is not null && y is not null && x.AsSpan().SequenceEqual(y));

    public int GetHashCode(byte[] obj)
    {
        var h = new HashCode();
        h.AddBytes(obj);
        return h.ToHashCode();
    }
}
