using System.Text;
using Microsoft.Win32.SafeHandles;
using Strata.Platform;

namespace Strata.EndToEnd.Infrastructure;

/// <summary>
/// Compares a source tree with its restored copy entry by entry, with byte names (not UTF-8 safe names are kept):
/// the set of names, kind, permission bits (07777), owner, group, mtime to the nanosecond, size, contents byte for
/// byte, symlink targets, extended attributes, link counts, and hard-link identity (names that share an inode in
/// the source share one in the restore, and names that do not, do not). Access times are not compared (reading
/// changes them).
/// </summary>
internal static class TreeComparer
{
    public sealed record Options
    {
        /// <summary>Compare the metadata of the top folder itself (off when it is a restore target's ancestor).</summary>
        public bool CompareRoot { get; init; } = true;

        /// <summary>Relative paths (as displayed) to leave out of the comparison, with everything under them.</summary>
        public IReadOnlySet<string> Skip { get; init; } = new HashSet<string>();
    }

    /// <summary>Asserts that <paramref name="restored"/> is an exact copy of <paramref name="source"/>.</summary>
    public static void AssertSame(string source, string restored, Options? options = null)
    {
        var diffs = Compare(source, restored, options ?? new Options());
        Assert.True(diffs.Count == 0, $"restored tree {restored} differs from {source} in {diffs.Count} ways:\n  " + string.Join("\n  ", diffs.Take(60)));
    }

    public static List<string> Compare(string source, string restored, Options options)
    {
        var diffs = new List<string>();
        var inodes = new Dictionary<ulong, ulong>(); // source inode -> restored inode
        var reverse = new Dictionary<ulong, ulong>(); // restored inode -> source inode
        byte[] s = Posix.ToBytes(source), r = Posix.ToBytes(restored);
        if (!Posix.TryLStat(r, out _, out int errno))
        {
            diffs.Add($"{restored} was not restored ({Posix.StrError(errno)})");
            return diffs;
        }
        CompareEntry(s, r, "", options.CompareRoot, options, diffs, inodes, reverse);
        return diffs;
    }

    private static void CompareEntry(byte[] s, byte[] r, string rel, bool metadata, Options o, List<string> diffs, Dictionary<ulong, ulong> inodes, Dictionary<ulong, ulong> reverse)
    {
        string name = rel.Length == 0 ? "." : rel;
        FileStat a = Posix.LStat(s);
        if (!Posix.TryLStat(r, out FileStat b, out int errno))
        {
            diffs.Add($"{name}: missing in the restore ({Posix.StrError(errno)})");
            return;
        }
        if (a.Kind != b.Kind)
        {
            diffs.Add($"{name}: kind {a.Kind} restored as {b.Kind}");
            return;
        }
        if (metadata)
        {
            if (a.Mode != b.Mode)
            {
                diffs.Add($"{name}: mode {Convert.ToString(a.Mode, 8)} restored as {Convert.ToString(b.Mode, 8)}");
            }
            if (a.Uid != b.Uid || a.Gid != b.Gid)
            {
                diffs.Add($"{name}: owner {a.Uid}:{a.Gid} restored as {b.Uid}:{b.Gid}");
            }
            if (a.MTimeNs != b.MTimeNs)
            {
                diffs.Add($"{name}: mtime {a.MTimeNs} ns restored as {b.MTimeNs} ns ({Show(a.MTimeNs)} vs {Show(b.MTimeNs)})");
            }
            if (a.Kind != FileKind.Directory && a.NLink != b.NLink)
            {
                diffs.Add($"{name}: {a.NLink} hard links restored as {b.NLink}");
            }
            CompareXattrs(s, r, name, diffs);
        }
        switch (a.Kind)
        {
            case FileKind.Regular:
                if (a.Size != b.Size)
                {
                    diffs.Add($"{name}: size {a.Size} restored as {b.Size}");
                }
                else if (!SameContent(s, r, out long at))
                {
                    diffs.Add($"{name}: contents differ from byte {at}");
                }
                if (a.NLink > 1 || b.NLink > 1)
                {
                    if (inodes.TryGetValue(a.Inode, out ulong expected) && expected != b.Inode)
                    {
                        diffs.Add($"{name}: is a hard link in the source, but in the restore it is not linked to the other names of its inode");
                    }
                    if (reverse.TryGetValue(b.Inode, out ulong src) && src != a.Inode)
                    {
                        diffs.Add($"{name}: is a separate file in the source but shares an inode with another name in the restore");
                    }
                    inodes.TryAdd(a.Inode, b.Inode);
                    reverse.TryAdd(b.Inode, a.Inode);
                }
                break;
            case FileKind.Symlink:
                byte[] ta = Posix.ReadLink(s), tb = Posix.ReadLink(r);
                if (!ta.AsSpan().SequenceEqual(tb))
                {
                    diffs.Add($"{name}: symlink to '{Posix.Display(ta)}' restored as one to '{Posix.Display(tb)}'");
                }
                break;
            case FileKind.CharDevice or FileKind.BlockDevice:
                if (a.RDev != b.RDev)
                {
                    diffs.Add($"{name}: device {a.RDev} restored as {b.RDev}");
                }
                break;
            case FileKind.Directory:
                var left = Posix.ReadDirectory(s).Select(e => e.Name).ToList();
                var right = Posix.ReadDirectory(r).Select(e => e.Name).ToList();
                var rightSet = new HashSet<string>(right.Select(Key), StringComparer.Ordinal);
                var leftSet = new HashSet<string>(left.Select(Key), StringComparer.Ordinal);
                foreach (byte[] extra in right.Where(n => !leftSet.Contains(Key(n))))
                {
                    diffs.Add($"{Child(rel, extra)}: in the restore but not in the source");
                }
                foreach (byte[] child in left.OrderBy(Key, StringComparer.Ordinal))
                {
                    string childRel = Child(rel, child);
                    if (o.Skip.Contains(childRel))
                    {
                        continue;
                    }
                    if (!rightSet.Contains(Key(child)))
                    {
                        diffs.Add($"{childRel}: missing in the restore");
                        continue;
                    }
                    CompareEntry(Posix.Join(s, child), Posix.Join(r, child), childRel, true, o, diffs, inodes, reverse);
                }
                break;
        }
    }

    private static string Key(byte[] name) => Convert.ToBase64String(name);

    private static string Child(string rel, byte[] name) => rel.Length == 0 ? Posix.Display(name) : rel + "/" + Posix.Display(name);

    private static string Show(long ns) => DateTimeOffset.FromUnixTimeMilliseconds(Math.DivRem(ns, 1_000_000L).Quotient).ToString("O");

    private static void CompareXattrs(byte[] s, byte[] r, string name, List<string> diffs)
    {
        static string Fmt(List<(byte[] Name, byte[] Value)> xs) =>
            string.Join(", ", xs.Select(x => $"{Encoding.UTF8.GetString(x.Name)}=0x{Convert.ToHexString(x.Value)}"));
        var xa = Posix.ListXattrs(s);
        var xb = Posix.ListXattrs(r);
        string fa = Fmt(xa), fb = Fmt(xb);
        if (fa != fb)
        {
            diffs.Add($"{name}: xattrs [{fa}] restored as [{fb}]");
        }
    }

    [ThreadStatic]
    private static byte[]? _bufferA;

    [ThreadStatic]
    private static byte[]? _bufferB;

    /// <summary>Streams both files and compares them; <paramref name="firstDifference"/> is the offset of the first differing byte.</summary>
    public static bool SameContent(byte[] a, byte[] b, out long firstDifference)
    {
        using SafeFileHandle ha = Posix.OpenRead(a);
        using SafeFileHandle hb = Posix.OpenRead(b);
        // one pair of buffers per thread: a tree of 100,000 tiny files must not allocate 2 MiB per file
        byte[] ba = _bufferA ??= new byte[1 << 20], bb = _bufferB ??= new byte[1 << 20];
        long pos = 0;
        while (true)
        {
            int na = ReadFull(ha, ba, pos), nb = ReadFull(hb, bb, pos);
            int common = Math.Min(na, nb);
            int mismatch = ba.AsSpan(0, common).CommonPrefixLength(bb.AsSpan(0, common));
            if (mismatch < common || na != nb)
            {
                firstDifference = pos + mismatch;
                return false;
            }
            if (na == 0)
            {
                firstDifference = -1;
                return true;
            }
            pos += na;
        }
    }

    private static int ReadFull(SafeFileHandle h, byte[] buffer, long offset)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = RandomAccess.Read(h, buffer.AsSpan(total), offset + total);
            if (n == 0)
            {
                break;
            }
            total += n;
        }
        return total;
    }
}
