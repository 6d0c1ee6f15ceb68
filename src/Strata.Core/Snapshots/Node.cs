using System.Buffers.Binary;
using System.Text;
using Strata.Crypto;
using Strata.Platform;
using Strata.Repository;

namespace Strata.Snapshots;

/// <summary>An extended attribute: raw name and value bytes.</summary>
public sealed record Xattr(byte[] Name, byte[] Value);

/// <summary>A data region of a sparse file. A file without extents is dense: one region [0, Size).</summary>
public readonly record struct Extent(long Offset, long Length);

/// <summary>
/// One entry of a directory with everything needed to recreate it: type, mode, owner (ids and names),
/// times (ns), size, link target, hard-link identity (device, inode, link count), device numbers, xattrs,
/// content blobs (concatenated, they are the file's data regions in order) and sparse extents.
/// </summary>
public sealed record Node
{
    public required byte[] Name { get; init; }
    public required FileKind Kind { get; init; }
    public uint Mode { get; init; }
    public uint Uid { get; init; }
    public uint Gid { get; init; }
    public string User { get; init; } = "";
    public string Group { get; init; } = "";
    public long MTimeNs { get; init; }
    public long CTimeNs { get; init; }
    public long ATimeNs { get; init; }
    public long Size { get; init; }
    public ulong Inode { get; init; }
    public ulong Device { get; init; }
    public ulong Links { get; init; }
    public ulong RDev { get; init; }
    public byte[] LinkTarget { get; init; } = [];
    public IReadOnlyList<Xattr> Xattrs { get; init; } = [];
    public IReadOnlyList<BlobId> Content { get; init; } = [];
    /// <summary>Data regions of a sparse file; empty for a dense file.</summary>
    public IReadOnlyList<Extent> Extents { get; init; } = [];
    public BlobId? Subtree { get; init; }
    /// <summary>The file changed while it was read; its content is what was read and may be torn.</summary>
    public bool ChangedWhileReading { get; init; }

    /// <summary>
    /// Not stored: for a directory, the keyed hash of its contents and metadata without access times (which
    /// change on every read); equal state ids mean nothing a user cares about changed. Set by the archiver.
    /// </summary>
    public BlobId? State { get; init; }

    /// <summary>Not stored: a folder on the way to a backed-up path (like /home for /home/me), whose own metadata is recorded but does not make a new version.</summary>
    public bool OnTheWay { get; init; }

    public string DisplayName => Posix.Display(Name);

    public bool IsHardLinked => Kind != FileKind.Directory && Links > 1;
}

/// <summary>
/// A directory listing: nodes sorted by name bytes. Binary encoding (docs/format.md, "tree blobs"):
/// "STRTREE1", u32 count, then each node's fields in a fixed order; deterministic, so an unchanged
/// directory produces the same bytes and the same id.
/// </summary>
public sealed record Tree(IReadOnlyList<Node> Nodes)
{
    private static ReadOnlySpan<byte> Magic => "STRTREE1"u8;

    public byte[] Encode() => Encode(forState: false);

    /// <summary>
    /// With <paramref name="forState"/>, access times are written as 0 and each folder's subtree id is replaced by
    /// its <see cref="Node.State"/>: the bytes whose keyed hash is the folder's state id.
    /// </summary>
    public byte[] Encode(bool forState)
    {
        var w = new Writer();
        w.Bytes(Magic);
        w.U32((uint)Nodes.Count);
        foreach (Node node in Nodes)
        {
            Node n = forState && node.OnTheWay ? new Node { Name = node.Name, Kind = node.Kind, Subtree = node.Subtree, State = node.State } : node;
            w.Blob16(n.Name);
            w.U8((byte)n.Kind);
            byte flags = (byte)((n.Subtree is null ? 0 : 1) | (n.ChangedWhileReading ? 2 : 0));
            w.U8(flags);
            w.U32(n.Mode);
            w.U32(n.Uid);
            w.U32(n.Gid);
            w.Blob16(Encoding.UTF8.GetBytes(n.User));
            w.Blob16(Encoding.UTF8.GetBytes(n.Group));
            w.I64(n.MTimeNs);
            w.I64(n.CTimeNs);
            w.I64(forState ? 0 : n.ATimeNs);
            w.I64(n.Size);
            w.U64(n.Inode);
            w.U64(n.Device);
            w.U64(n.Links);
            w.U64(n.RDev);
            w.Blob16(n.LinkTarget);
            w.U32((uint)n.Xattrs.Count);
            foreach (Xattr x in n.Xattrs)
            {
                w.Blob16(x.Name);
                w.Blob32(x.Value);
            }
            w.U32((uint)n.Content.Count);
            foreach (BlobId id in n.Content)
            {
                w.Id(id);
            }
            w.U32((uint)n.Extents.Count);
            foreach (Extent e in n.Extents)
            {
                w.I64(e.Offset);
                w.I64(e.Length);
            }
            if (n.Subtree is { } st)
            {
                w.Id(forState ? n.State ?? st : st);
            }
        }
        return w.ToArray();
    }

    public static Tree Decode(ReadOnlySpan<byte> data, string where)
    {
        var r = new Reader(data, where);
        if (!r.Bytes(8).SequenceEqual(Magic))
        {
            throw new CorruptionException($"{where}: not a tree blob");
        }
        uint count = r.U32();
        var nodes = new List<Node>((int)Math.Min(count, 1 << 20));
        for (uint i = 0; i < count; i++)
        {
            byte[] name = r.Blob16();
            var kind = (FileKind)r.U8();
            byte flags = r.U8();
            uint mode = r.U32(), uid = r.U32(), gid = r.U32();
            string user = Encoding.UTF8.GetString(r.Blob16());
            string group = Encoding.UTF8.GetString(r.Blob16());
            long mt = r.I64(), ct = r.I64(), at = r.I64(), size = r.I64();
            ulong inode = r.U64(), dev = r.U64(), links = r.U64(), rdev = r.U64();
            byte[] target = r.Blob16();
            uint nx = r.U32();
            var xattrs = new List<Xattr>((int)Math.Min(nx, 1024));
            for (uint j = 0; j < nx; j++)
            {
                xattrs.Add(new Xattr(r.Blob16(), r.Blob32()));
            }
            uint nc = r.U32();
            var content = new List<BlobId>((int)Math.Min(nc, 1 << 20));
            for (uint j = 0; j < nc; j++)
            {
                content.Add(r.Id());
            }
            uint ne = r.U32();
            var extents = new List<Extent>((int)Math.Min(ne, 1 << 20));
            for (uint j = 0; j < ne; j++)
            {
                extents.Add(new Extent(r.I64(), r.I64()));
            }
            BlobId? subtree = (flags & 1) != 0 ? r.Id() : null;
            nodes.Add(new Node
            {
                Name = name, Kind = kind, Mode = mode, Uid = uid, Gid = gid, User = user, Group = group,
                MTimeNs = mt, CTimeNs = ct, ATimeNs = at, Size = size, Inode = inode, Device = dev, Links = links,
                RDev = rdev, LinkTarget = target, Xattrs = xattrs, Content = content, Extents = extents,
                Subtree = subtree, ChangedWhileReading = (flags & 2) != 0,
            });
        }
        return new Tree(nodes);
    }

    /// <summary>Ordinal comparison of raw name bytes: the order of nodes in a tree.</summary>
    public static int CompareNames(byte[] a, byte[] b) => a.AsSpan().SequenceCompareTo(b);

    private sealed class Writer
    {
        private byte[] _buf = new byte[256];
        private int _len;

        private Span<byte> Take(int n)
        {
            if (_len + n > _buf.Length)
            {
                Array.Resize(ref _buf, Math.Max(_buf.Length * 2, _len + n));
            }
            var s = _buf.AsSpan(_len, n);
            _len += n;
            return s;
        }

        public void Bytes(ReadOnlySpan<byte> b) => b.CopyTo(Take(b.Length));
        public void U8(byte v) => Take(1)[0] = v;
        public void U32(uint v) => BinaryPrimitives.WriteUInt32LittleEndian(Take(4), v);
        public void I64(long v) => BinaryPrimitives.WriteInt64LittleEndian(Take(8), v);
        public void U64(ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(Take(8), v);
        public void Id(BlobId id) => id.Write(Take(32));

        public void Blob16(byte[] b)
        {
            if (b.Length > ushort.MaxValue)
            {
                throw new ArgumentException("name too long");
            }
            BinaryPrimitives.WriteUInt16LittleEndian(Take(2), (ushort)b.Length);
            Bytes(b);
        }

        public void Blob32(byte[] b)
        {
            U32((uint)b.Length);
            Bytes(b);
        }

        public byte[] ToArray() => _buf.AsSpan(0, _len).ToArray();
    }

    private ref struct Reader
    {
        private readonly ReadOnlySpan<byte> _data;
        private readonly string _where;
        private int _at;

        public Reader(ReadOnlySpan<byte> data, string where)
        {
            _data = data;
            _where = where;
            _at = 0;
        }

        public ReadOnlySpan<byte> Bytes(int n)
        {
            if (n < 0 || _at + n > _data.Length)
            {
                throw new CorruptionException($"{_where}: tree blob is truncated");
            }
            var s = _data.Slice(_at, n);
            _at += n;
            return s;
        }

        public byte U8() => Bytes(1)[0];
        public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Bytes(4));
        public long I64() => BinaryPrimitives.ReadInt64LittleEndian(Bytes(8));
        public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Bytes(8));
        public BlobId Id() => BlobId.Read(Bytes(32));
        public byte[] Blob16() => Bytes(BinaryPrimitives.ReadUInt16LittleEndian(Bytes(2))).ToArray();
        public byte[] Blob32() => Bytes((int)U32()).ToArray();
    }
}
