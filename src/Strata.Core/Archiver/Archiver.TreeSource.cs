using System.Text;
using Strata.Crypto;
using Strata.Platform;
using Strata.Snapshots;

namespace Strata.Archiver;

/// <summary>
/// The archiver's walk of an <see cref="ITreeSource"/> (a bucket's objects) instead of the file system. The listing
/// is the walk: folders open as the listing enters them and complete (tree saved, node made) as it leaves them,
/// so memory holds only the open folders' children. Files go through the same workers, sequencer and packs as
/// files on disk; each is opened when it is queued, so downloads run ahead of the chunking.
/// </summary>
public sealed partial class Archiver
{
    private const uint SourceFileMode = 0x1A4; // 0644: objects have no POSIX modes; what `aws s3 cp` gives with the usual umask
    private const uint SourceDirMode = 0x1ED;  // 0755

    /// <summary>A folder the listing is inside: its name, the previous snapshot's tree of it, its children so far.</summary>
    private sealed class SourceDir(byte[] name, string display, Tree? parent, bool onTheWay)
    {
        public byte[] Name { get; } = name;
        public string Display { get; } = display;
        public Tree? Parent { get; } = parent;
        public bool OnTheWay { get; } = onTheWay;
        public List<Task<Node?>> Children { get; } = [];
    }

    /// <summary>Whom files and folders of a tree source belong to: the user running the backup (/proc/self is theirs).</summary>
    private readonly Lazy<(uint Uid, uint Gid, string User, string Group)> _sourceOwner = new(() =>
    {
        FileStat self = Posix.TryLStat("/proc/self"u8.ToArray(), out FileStat st, out _) ? st : default;
        return (self.Uid, self.Gid, Posix.UserName(self.Uid) ?? "", Posix.GroupName(self.Gid) ?? "");
    });

    private async Task<Task<Node?>> WalkTreeSourceAsync(ITreeSource source, BlobId? parentRoot, CancellationToken ct)
    {
        Tree? parentTree = parentRoot is { } pr ? await _parents.LoadTreeAsync(pr, ct).ConfigureAwait(false) : null;
        var open = new List<SourceDir> { new([], "/", parentTree, onTheWay: true) };
        string[] rootNames = source.Root.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < rootNames.Length; i++)
        {
            await EnterSourceDirAsync(open, Encoding.UTF8.GetBytes(rootNames[i]), onTheWay: i < rootNames.Length - 1, ct).ConfigureAwait(false);
        }
        int rootDepth = open.Count;
        long files = 0, bytes = 0;
        await foreach (TreeSourceFile f in source.ListAsync(ct).ConfigureAwait(false))
        {
            int folders = f.Path.Count - 1;
            int common = 0;
            while (common < folders && rootDepth + common < open.Count && open[rootDepth + common].Name.AsSpan().SequenceEqual(f.Path[common]))
            {
                common++;
            }
            while (open.Count > rootDepth + common)
            {
                LeaveSourceDir(open, source);
            }
            for (int i = common; i < folders; i++)
            {
                await EnterSourceDirAsync(open, f.Path[i], onTheWay: false, ct).ConfigureAwait(false);
            }
            SourceDir dir = open[^1];
            dir.Children.Add(await VisitSourceFileAsync(source, dir, f, ct).ConfigureAwait(false));
            files++;
            bytes += f.Size;
            if (files == 1000)
            {
                _progress.Scanned(files, bytes);
                files = bytes = 0;
            }
        }
        _progress.Scanned(files, bytes);
        _progress.ScanFinished();
        while (open.Count > 1)
        {
            LeaveSourceDir(open, source);
        }
        return CompleteSourceDirAsync(open[0], source);
    }

    private async Task EnterSourceDirAsync(List<SourceDir> open, byte[] name, bool onTheWay, CancellationToken ct)
    {
        SourceDir parent = open[^1];
        Node? before = Find(parent.Parent, name);
        Tree? sub = before is { Kind: FileKind.Directory, Subtree: { } s } ? await _parents.LoadTreeAsync(s, ct).ConfigureAwait(false) : null;
        string display = parent.Display == "/" ? "/" + Posix.Display(name) : parent.Display + "/" + Posix.Display(name);
        open.Add(new SourceDir(name, display, sub, onTheWay));
    }

    private void LeaveSourceDir(List<SourceDir> open, ITreeSource source)
    {
        SourceDir done = open[^1];
        open.RemoveAt(open.Count - 1);
        open[^1].Children.Add(CompleteSourceDirAsync(done, source));
    }

    /// <summary>Queues a new or changed file (opened now, read by a worker) or reuses the previous snapshot's content.</summary>
    private async ValueTask<Task<Node?>> VisitSourceFileAsync(ITreeSource source, SourceDir dir, TreeSourceFile f, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        byte[] name = f.Path[^1];
        string display = dir.Display + "/" + Posix.Display(name);
        var owner = _sourceOwner.Value;
        var node = new Node
        {
            Name = name,
            Kind = FileKind.Regular,
            Mode = SourceFileMode,
            Uid = owner.Uid,
            Gid = owner.Gid,
            User = owner.User,
            Group = owner.Group,
            MTimeNs = f.MTimeNs,
            CTimeNs = f.MTimeNs,
            ATimeNs = f.MTimeNs,
            Size = f.Size,
            Links = 1,
            Xattrs = f.Xattrs,
        };
        Interlocked.Add(ref _bytesTotal, f.Size);
        Node? before = Find(dir.Parent, name);
        if (before is { Kind: FileKind.Directory })
        {
            before = Find(dir.Parent, source.FileBesideFolder(name)); // it was renamed beside a folder last time
        }
        if (!_options.Force && before is { Kind: FileKind.Regular } p && p.Size == f.Size && p.MTimeNs == f.MTimeNs && !p.ChangedWhileReading
            && f.Xattrs.All(x => p.Xattrs.Any(y => y.Name.AsSpan().SequenceEqual(x.Name) && y.Value.AsSpan().SequenceEqual(x.Value)))
            && p.Content.All(_repo.Index.Contains))
        {
            Interlocked.Increment(ref _filesUnchanged);
            _progress.FileDone(f.Size);
            // The previous read's xattrs (version id, content type...) describe the same object.
            return Task.FromResult<Node?>(node with { Xattrs = p.Xattrs, Content = p.Content });
        }
        Interlocked.Increment(ref before is null ? ref _filesNew : ref _filesChanged);
        var stat = new FileStat(FileKind.Regular, SourceFileMode, owner.Uid, owner.Gid, f.Size, f.MTimeNs, f.MTimeNs, f.MTimeNs, 0, 0, 1, 0, 0);
        long charge = _inFlight.ChargeFor(f.Size);
        await _inFlight.TakeAsync(charge, ct).ConfigureAwait(false);
        var job = new FileJob(Posix.ToBytes(display), display, stat, node) { Opening = source.OpenAsync(f, ct), IsNew = before is null, Parent = before, Charge = charge };
        await _order.Writer.WriteAsync(job, ct).ConfigureAwait(false);
        await _jobs.Writer.WriteAsync(job, ct).ConfigureAwait(false);
        return job.Result.Task;
    }

    /// <summary>
    /// A folder once all its children are done: a file that shares its name with a folder is renamed by the source's
    /// rule; the folder's time is its newest child's (so an unchanged source gives the same tree).
    /// </summary>
    private async Task<Node?> CompleteSourceDirAsync(SourceDir dir, ITreeSource source)
    {
        Node?[] nodes = await Task.WhenAll(dir.Children).ConfigureAwait(false);
        var list = nodes.Where(n => n is not null).Select(n => n!).ToList();
        list.Sort((a, b) => Tree.CompareNames(a.Name, b.Name));
        bool renamed = false;
        for (int i = 1; i < list.Count; i++)
        {
            if (!list[i - 1].Name.AsSpan().SequenceEqual(list[i].Name))
            {
                continue;
            }
            if ((list[i - 1].Kind == FileKind.Directory) == (list[i].Kind == FileKind.Directory))
            {
                throw new IOException($"{dir.Display}: the source listed '{list[i].DisplayName}' twice (its listing is out of order)");
            }
            int file = list[i - 1].Kind == FileKind.Directory ? i : i - 1;
            list[file] = list[file] with { Name = source.FileBesideFolder(list[file].Name) };
            renamed = true;
        }
        if (renamed)
        {
            list.Sort((a, b) => Tree.CompareNames(a.Name, b.Name));
            for (int i = 1; i < list.Count; i++)
            {
                if (list[i - 1].Name.AsSpan().SequenceEqual(list[i].Name))
                {
                    throw new IOException($"{dir.Display}: '{list[i].DisplayName}' names two entries even after renaming a file beside a folder");
                }
            }
        }
        var tree = new Tree(list);
        BlobId treeId = SaveTree(tree);
        BlobId state = _repo.Keys.IdOf(tree.Encode(forState: true));
        Interlocked.Increment(ref _dirs);
        var owner = _sourceOwner.Value;
        long mtime = list.Count > 0 ? list.Max(n => n.MTimeNs) : 0;
        return new Node
        {
            Name = dir.Name,
            Kind = FileKind.Directory,
            Mode = SourceDirMode,
            Uid = owner.Uid,
            Gid = owner.Gid,
            User = owner.User,
            Group = owner.Group,
            MTimeNs = mtime,
            CTimeNs = mtime,
            ATimeNs = mtime,
            Links = 1,
            Subtree = treeId,
            State = state,
            OnTheWay = dir.OnTheWay,
        };
    }

    /// <summary>Reads an opened tree-source file to its end, cutting chunks as from a file on disk; the node takes what the read found.</summary>
    private async Task ReadSourceFileAsync(FileJob job, Task<TreeSourceRead> opening, byte[] buffer, Compression.ZstdCompressor compressor, Compression.ZstdCompressor sampler, byte[] sample, CancellationToken ct)
    {
        _progress.Reading(job.Display);
        await using TreeSourceRead read = await opening.ConfigureAwait(false);
        job.Node = job.Node with { MTimeNs = read.MTimeNs, CTimeNs = read.MTimeNs, ATimeNs = read.MTimeNs, Xattrs = read.Xattrs };
        long total = 0;
        try
        {
            await FileChunker.ReadStreamAsync(read.Data, _repo.Chunker, buffer, chunk => EmitAsync(job, chunk, compressor, sampler, sample, ct),
                n =>
                {
                    total += n;
                    _progress.Streamed(n);
                }, ct).ConfigureAwait(false);
        }
        finally
        {
            job.BytesRead = total;
            Interlocked.Add(ref _bytesRead, total);
        }
    }
}
