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
}

public sealed record RestoreFailure(string Path, string Error);

public sealed record RestoreResult(long Files, long Directories, long Bytes, IReadOnlyList<RestoreFailure> Failures);

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
/// Recreates a snapshot's absolute paths under a target folder, as restic does. The tree walk creates folders
/// and queues files; workers fetch, verify (every blob is authenticated and its keyed id checked) and write
/// them in parallel; hard links, symlinks and folder metadata follow, folders deepest first so their times
/// stick. Names that could escape the target ("", ".", "..", anything with '/', a NUL) are refused, files are
/// created without following symlinks, and symlinks are created last, so no entry can redirect a later write.
/// A file that cannot be restored (a damaged blob, say) is listed and the rest continue.
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
    private long _files, _bytes;

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
        var files = Channel.CreateBounded<(byte[] Path, Node Node, string Display)>(256);
        var workers = Enumerable.Range(0, _options.Workers).Select(_ => Task.Run(async () =>
        {
            await foreach (var f in files.Reader.ReadAllAsync(ct).ConfigureAwait(false))
            {
                await RestoreFileAsync(f.Path, f.Node, f.Display, ct).ConfigureAwait(false);
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
            await Task.WhenAll(workers).ConfigureAwait(false);
        }
        foreach (var (path, node, display) in _links)
        {
            try
            {
                if (_firstLink.TryGetValue((node.Device, node.Inode), out byte[]? first) && first != path)
                {
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
            try
            {
                ApplyMetadata(_dirs[i].Path, _dirs[i].Node);
            }
            catch (PosixException e)
            {
                _failures.Enqueue(new RestoreFailure(Posix.Display(_dirs[i].Path), e.Message));
            }
        }
        return new RestoreResult(_files, _dirs.Count, _bytes, [.. _failures]);
    }

    private static bool IsSafeName(byte[] name) =>
        name.Length > 0 && !(name.Length == 1 && name[0] == (byte)'.') && !(name.Length == 2 && name[0] == (byte)'.' && name[1] == (byte)'.')
        && Array.IndexOf(name, (byte)'/') < 0 && Array.IndexOf(name, (byte)0) < 0;

    private bool Selected(string display, bool parentSelected, bool isDir, out bool descend)
    {
        descend = true;
        if (!_options.Excludes.IsEmpty && _options.Excludes.IsExcluded(display))
        {
            descend = false;
            return false;
        }
        if (_options.Includes.IsEmpty || parentSelected)
        {
            return true;
        }
        _ = isDir;
        return _options.Includes.IsExcluded(display);
    }

    private async Task WalkAsync(Tree tree, byte[] dir, string display, bool selectedParent, ChannelWriter<(byte[], Node, string)> files, CancellationToken ct)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (Node node in tree.Nodes)
        {
            string childDisplay = display + "/" + node.DisplayName;
            if (!IsSafeName(node.Name) || !seen.Add(Convert.ToBase64String(node.Name)))
            {
                _failures.Enqueue(new RestoreFailure(childDisplay, "refused: the entry's name would escape the target folder or repeats a name"));
                continue;
            }
            bool selected = Selected(childDisplay, selectedParent, node.Kind == FileKind.Directory, out bool descend);
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
                    _progress.FilesTotal++;
                    _progress.BytesTotal += node.Size;
                    await files.WriteAsync((path, node, childDisplay), ct).ConfigureAwait(false);
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

    private readonly HashSet<string> _made = new(StringComparer.Ordinal);

    private void EnsureDir(byte[] path)
    {
        string key = Convert.ToBase64String(path);
        if (_made.Add(key))
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
            if (!Posix.TryLStat(parent, out _, out _))
            {
                EnsureParents(parent);
                EnsureDir(parent);
            }
        }
    }

    private static void RemoveExisting(byte[] path)
    {
        if (Posix.TryLStat(path, out FileStat st, out _) && st.Kind != FileKind.Directory)
        {
            Posix.Unlink(path);
        }
    }

    private async Task RestoreFileAsync(byte[] path, Node node, string display, CancellationToken ct)
    {
        try
        {
            RemoveExisting(path);
            using (var h = Posix.CreateNew(path, 384 /* 0600 */))
            {
                long written = 0;
                int extent = 0;
                long extentPos = 0;
                foreach (BlobId id in node.Content)
                {
                    byte[] data = await _repo.ReadBlobAsync(id, ct).ConfigureAwait(false);
                    if (node.Extents.Count == 0)
                    {
                        await RandomAccess.WriteAsync(h, data, written, ct).ConfigureAwait(false);
                        written += data.Length;
                    }
                    else
                    {
                        int at = 0;
                        while (at < data.Length && extent < node.Extents.Count)
                        {
                            Extent e = node.Extents[extent];
                            int n = (int)Math.Min(data.Length - at, e.Length - extentPos);
                            await RandomAccess.WriteAsync(h, data.AsMemory(at, n), e.Offset + extentPos, ct).ConfigureAwait(false);
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
                if (node.Extents.Count > 0 || written != node.Size)
                {
                    Posix.FTruncate(h, node.Size);
                }
                Interlocked.Add(ref _bytes, written);
            }
            ApplyMetadata(path, node);
            Interlocked.Increment(ref _files);
            _progress.File(node.Size);
        }
        catch (Exception e) when (e is CorruptionException or IOException or Stores.StoreException)
        {
            _failures.Enqueue(new RestoreFailure(display, e.Message));
        }
    }

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
            uint uid = (node.User.Length > 0 ? Posix.UserId(node.User) : null) ?? node.Uid;
            uint gid = (node.Group.Length > 0 ? Posix.GroupId(node.Group) : null) ?? node.Gid;
            Posix.LChown(path, uid, gid);
        }
        if (node.Kind != FileKind.Symlink)
        {
            Posix.Chmod(path, node.Mode);
        }
        Posix.SetTimes(path, node.ATimeNs, node.MTimeNs);
    }
}
