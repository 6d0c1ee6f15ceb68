using System.Diagnostics;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Strata.Platform;

namespace Strata.Tests.Platform;

/// <summary>
/// Real system calls in a scratch directory under /var/tmp (a disk file system with xattrs and sparse files,
/// unlike a size-limited tmpfs). Some tests need root (mknod of a device, lchown).
/// </summary>
public sealed class PosixTests : IDisposable
{
    private const int ENOENT = 2;
    private const int EEXIST = 17;
    private const int ELOOP = 40;
    private const int ENOTSUP = 95;

    private readonly byte[] _root;

    public PosixTests()
    {
        _root = Posix.ToBytes(Path.Combine("/var/tmp", "strata-posix-" + Guid.NewGuid().ToString("N")));
        Posix.Mkdir(_root, Convert.ToUInt32("755", 8));
    }

    public void Dispose() => RemoveTree(_root);

    // Directory.Delete cannot remove names that are not UTF-8, so the cleanup uses the layer under test.
    private static void RemoveTree(byte[] path)
    {
        if (!Posix.TryLStat(path, out FileStat st, out _))
        {
            return;
        }
        if (st.Kind == FileKind.Directory)
        {
            foreach (DirEntry e in Posix.ReadDirectory(path))
            {
                RemoveTree(Posix.Join(path, e.Name));
            }
            Posix.RemoveDirectory(path);
        }
        else
        {
            Posix.Unlink(path);
        }
    }

    private byte[] P(string name) => Posix.Join(_root, Encoding.UTF8.GetBytes(name));

    private static void WriteAll(byte[] path, byte[] content, uint mode = 0x1A4 /* 0644 */)
    {
        using SafeFileHandle h = Posix.CreateNew(path, mode);
        RandomAccess.Write(h, content, 0);
    }

    private static uint Octal(string s) => Convert.ToUInt32(s, 8);

    private static string Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return output.Trim();
    }

    [Fact]
    public void LStat_reports_kind_size_inode_links_and_mode()
    {
        byte[] file = P("file");
        WriteAll(file, new byte[1234]);
        byte[] dir = P("dir");
        Posix.Mkdir(dir, Octal("700"));
        byte[] link = P("link");
        Posix.Symlink(Encoding.UTF8.GetBytes("file"), link);
        byte[] fifo = P("fifo");
        Posix.MkNod(fifo, FileKind.Fifo, Octal("600"), 0);

        FileStat f = Posix.LStat(file);
        Assert.Equal(FileKind.Regular, f.Kind);
        Assert.Equal(1234, f.Size);
        Assert.Equal(1UL, f.NLink);
        Assert.Equal(Posix.GetEuid(), f.Uid);
        Assert.True(f.MTimeNs > 1_600_000_000L * 1_000_000_000L);
        Assert.True(f.CTimeNs > 1_600_000_000L * 1_000_000_000L);

        // Cross-check inode and st_dev (glibc dev_t encoding) against coreutils stat.
        string[] coreutils = Run("stat", "-c", "%i %d %h", Encoding.UTF8.GetString(file)).Split(' ');
        Assert.Equal(ulong.Parse(coreutils[0]), f.Inode);
        Assert.Equal(ulong.Parse(coreutils[1]), f.Device);

        Posix.HardLink(file, P("file2"));
        FileStat f2 = Posix.LStat(P("file2"));
        Assert.Equal(f.Inode, f2.Inode);
        Assert.Equal(2UL, f2.NLink);
        Assert.Equal(2UL, Posix.LStat(file).NLink);

        Posix.Chmod(file, Octal("4751"));
        Assert.Equal(Octal("4751"), Posix.LStat(file).Mode);

        FileStat d = Posix.LStat(dir);
        Assert.Equal(FileKind.Directory, d.Kind);
        Assert.Equal(Octal("700"), d.Mode);
        Assert.Equal(f.Device, d.Device);

        FileStat l = Posix.LStat(link);
        Assert.Equal(FileKind.Symlink, l.Kind);
        Assert.Equal(4, l.Size); // the length of the target "file"
        Assert.NotEqual(f.Inode, l.Inode);

        Assert.Equal(FileKind.Fifo, Posix.LStat(fifo).Kind);
    }

    [Fact]
    public void Names_that_are_not_utf8_survive_create_list_and_read()
    {
        byte[] name = [0x66, 0xff, 0xfe, 0x2e, 0x74];
        byte[] path = Posix.Join(_root, name);
        byte[] content = Encoding.ASCII.GetBytes("bytes, not strings");
        WriteAll(path, content);
        WriteAll(P("f.t"), [1]); // what a lossy decode might collide with

        List<DirEntry> entries = Posix.ReadDirectory(_root);
        Assert.Equal(2, entries.Count);
        Assert.Contains(entries, e => e.Name.AsSpan().SequenceEqual(name));

        using (SafeFileHandle h = Posix.OpenRead(path))
        {
            byte[] back = new byte[100];
            int n = RandomAccess.Read(h, back, 0);
            Assert.Equal(content, back[..n]);

            FileStat viaFd = Posix.FStat(h);
            FileStat viaPath = Posix.LStat(path);
            Assert.Equal(viaPath.Inode, viaFd.Inode);
            Assert.Equal(viaPath.Size, viaFd.Size);
            Assert.Equal(viaPath.MTimeNs, viaFd.MTimeNs);
            Assert.Equal(FileKind.Regular, viaFd.Kind);
        }

        Assert.Equal("f\\xff\\xfe.t", Posix.Display(path)[(Posix.Display(_root).Length + 1)..]);
    }

    [Fact]
    public async Task OpenRead_handle_works_with_FileStream_and_async_reads()
    {
        byte[] path = P("data");
        byte[] content = new byte[100_000];
        new Random(7).NextBytes(content);
        WriteAll(path, content);

        using (SafeFileHandle h = Posix.OpenRead(path))
        {
            byte[] part = new byte[1000];
            int n = await RandomAccess.ReadAsync(h, part, 50_000);
            Assert.Equal(1000, n);
            Assert.Equal(content.AsSpan(50_000, 1000).ToArray(), part);
            Assert.Equal(content.Length, RandomAccess.GetLength(h));
        }

        using (SafeFileHandle h = Posix.OpenRead(path))
        using (var fs = new FileStream(h, FileAccess.Read))
        using (var ms = new MemoryStream())
        {
            await fs.CopyToAsync(ms);
            Assert.Equal(content, ms.ToArray());
        }
    }

    [Fact]
    public void Open_refuses_symlinks_and_CreateNew_refuses_existing_files()
    {
        byte[] file = P("file");
        WriteAll(file, [1, 2, 3]);
        byte[] link = P("link");
        Posix.Symlink(file, link);

        Assert.Equal(ELOOP, Assert.Throws<PosixException>(() => Posix.OpenRead(link)).Errno);
        Assert.Equal(ELOOP, Assert.Throws<PosixException>(() => Posix.OpenWrite(link)).Errno);
        Assert.Equal(EEXIST, Assert.Throws<PosixException>(() => Posix.CreateNew(file, 0x1A4)).Errno);

        using (SafeFileHandle h = Posix.OpenWrite(file))
        {
            RandomAccess.Write(h, [9], 1);
            Posix.FSync(h);
        }
        using (SafeFileHandle h = Posix.OpenRead(file))
        {
            byte[] back = new byte[3];
            Assert.Equal(3, RandomAccess.Read(h, back, 0));
            Assert.Equal(new byte[] { 1, 9, 3 }, back); // OpenWrite does not truncate
        }
    }

    [Fact]
    public void ReadDirectory_sorts_by_name_bytes_and_skips_dot_entries()
    {
        string[] names = ["b", "a", "B", "é", "a0", "_"];
        foreach (string n in names)
        {
            WriteAll(P(n), []);
        }
        Posix.Mkdir(P("z"), Octal("755"));

        List<DirEntry> entries = Posix.ReadDirectory(_root);
        string[] listed = entries.Select(e => Encoding.UTF8.GetString(e.Name)).ToArray();
        Assert.Equal(["B", "_", "a", "a0", "b", "z", "é"], listed);
        Assert.Empty(Posix.ReadDirectory(P("z")));

        PosixException missing = Assert.Throws<PosixException>(() => Posix.ReadDirectory(P("nope")));
        Assert.True(missing.IsNotFound);
    }

    [Fact]
    public void Xattrs_are_set_and_listed_sorted_by_name()
    {
        byte[] file = P("file");
        WriteAll(file, []);
        try
        {
            Posix.SetXattr(file, Encoding.ASCII.GetBytes("user.test"), [0x00, 0xff, 0x41]);
        }
        catch (PosixException e) when (e.Errno == ENOTSUP)
        {
            Assert.Empty(Posix.ListXattrs(file)); // a file system without xattrs lists none
            return;
        }
        Posix.SetXattr(file, Encoding.ASCII.GetBytes("user.a"), []);
        Posix.SetXattr(file, Encoding.ASCII.GetBytes("user.big"), new byte[3000]);

        List<(byte[] Name, byte[] Value)> xattrs = Posix.ListXattrs(file);
        // Root may also see security.* / trusted.* attributes set by the system; keep only ours.
        var user = xattrs.Where(x => Encoding.ASCII.GetString(x.Name).StartsWith("user.", StringComparison.Ordinal)).ToList();
        Assert.Equal(["user.a", "user.big", "user.test"], user.Select(x => Encoding.ASCII.GetString(x.Name)));
        Assert.Empty(user[0].Value);
        Assert.Equal(3000, user[1].Value.Length);
        Assert.Equal(new byte[] { 0x00, 0xff, 0x41 }, user[2].Value);

        // Not followed: the symlink itself has no user attributes.
        byte[] link = P("link");
        Posix.Symlink(file, link);
        Assert.DoesNotContain(Posix.ListXattrs(link), x => x.Name.AsSpan().StartsWith("user."u8));
    }

    [Fact]
    public void SetTimes_sets_nanoseconds_and_does_not_follow_symlinks()
    {
        byte[] file = P("file");
        WriteAll(file, [1]);
        byte[] link = P("link");
        Posix.Symlink(Encoding.UTF8.GetBytes("file"), link);

        const long fileA = 1_500_000_000_123_456_789;
        const long fileM = 1_600_000_000_987_654_321;
        // The link's atime lies an hour ahead: with relatime any read of the link (by anything on the machine) between
        // the set and the check would replace an atime older than its ctime with "now"; a later one it leaves alone.
        long linkA = ((DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 3600) * 1_000_000_000L) + 1;
        const long linkM = 1_300_000_000_000_000_002;
        Posix.SetTimes(file, fileA, fileM);
        Posix.SetTimes(link, linkA, linkM);

        FileStat f = Posix.LStat(file);
        Assert.Equal(fileM, f.MTimeNs);
        Assert.Equal(fileA, f.ATimeNs);
        FileStat l = Posix.LStat(link);
        Assert.Equal(linkM, l.MTimeNs);
        Assert.Equal(linkA, l.ATimeNs);

        // Before 1970: tv_nsec must stay non-negative (floor division).
        Posix.SetTimes(file, -1_500_000_000, -1_250_000_000);
        f = Posix.LStat(file);
        Assert.Equal(-1_250_000_000, f.MTimeNs);
        Assert.Equal(-1_500_000_000, f.ATimeNs);
    }

    [Fact]
    public void Sparse_file_reports_its_data_extents_and_few_blocks()
    {
        const long size = 64L << 20;
        const long at = 32L << 20;
        byte[] path = P("sparse");
        using (SafeFileHandle h = Posix.CreateNew(path, 0x1A4))
        {
            Posix.FTruncate(h, size);
            byte[] data = new byte[4096];
            Array.Fill(data, (byte)0x5a);
            RandomAccess.Write(h, data, at);
            Posix.FSync(h);
        }

        FileStat st = Posix.LStat(path);
        Assert.Equal(size, st.Size);
        Assert.True(st.Blocks < size / 512 / 100, $"{st.Blocks} blocks allocated");

        using (SafeFileHandle h = Posix.OpenRead(path))
        {
            List<(long Offset, long Length)> extents = Posix.DataExtents(h, size);
            Assert.Contains(extents, e => e.Offset <= at && e.Offset + e.Length >= at + 4096);
            Assert.True(extents.Sum(e => e.Length) < 1L << 20, string.Join(", ", extents));
            Assert.Equal(extents.OrderBy(e => e.Offset), extents);

            Assert.True(Posix.SeekData(h, 0) <= at);
            Assert.Equal(0, Posix.SeekHole(h, 0));
            Assert.Equal(-1, Posix.SeekData(h, size)); // ENXIO: nothing at or past the end
            Assert.Equal(-1, Posix.SeekHole(h, size + 1));
        }

        // A file without holes is one extent; an empty file has none.
        byte[] dense = P("dense");
        WriteAll(dense, new byte[10_000]);
        using (SafeFileHandle h = Posix.OpenRead(dense))
        {
            Assert.Equal([(0L, 10_000L)], Posix.DataExtents(h, 10_000));
        }
        WriteAll(P("empty"), []);
        using (SafeFileHandle h = Posix.OpenRead(P("empty")))
        {
            Assert.Empty(Posix.DataExtents(h, 0));
        }
    }

    [Fact]
    public void Users_and_groups_resolve_both_ways()
    {
        Assert.Equal("root", Posix.UserName(0));
        Assert.Equal("root", Posix.GroupName(0));
        Assert.Equal(0u, Posix.UserId("root"));
        Assert.Equal(0u, Posix.GroupId("root"));
        Assert.Null(Posix.UserId("no-such-user-strata"));
        Assert.Null(Posix.GroupId("no-such-group-strata"));
        Assert.Null(Posix.UserName(3_999_999_999));
        Assert.Equal("root", Posix.UserName(0)); // cached
        Assert.Equal(Environment.UserName, Posix.UserName(Posix.GetEuid()));
    }

    [Fact]
    public void ReadLink_returns_the_exact_target_bytes()
    {
        byte[] shortTarget = [0x2e, 0x2e, 0x2f, 0xff, 0x61]; // "../\xffa": dangling and not UTF-8
        Posix.Symlink(shortTarget, P("short"));
        Assert.Equal(shortTarget, Posix.ReadLink(P("short")));

        byte[] longTarget = Encoding.ASCII.GetBytes(string.Join('/', Enumerable.Repeat("abcdefghij", 300))); // > the first buffer
        Posix.Symlink(longTarget, P("long"));
        Assert.Equal(longTarget, Posix.ReadLink(P("long")));

        WriteAll(P("file"), []);
        Assert.Throws<PosixException>(() => Posix.ReadLink(P("file"))); // EINVAL: not a symlink
    }

    [Fact]
    public void Failures_name_the_call_and_the_path()
    {
        byte[] missing = Posix.Join(_root, [0x6d, 0x69, 0x73, 0x73, 0xff]);
        PosixException e = Assert.Throws<PosixException>(() => Posix.LStat(missing));
        Assert.True(e.IsNotFound);
        Assert.Equal(ENOENT, e.Errno);
        Assert.Contains("lstat", e.Message, StringComparison.Ordinal);
        Assert.Contains(Posix.Display(_root) + "/miss\\xff", e.Message, StringComparison.Ordinal);
        Assert.Contains("No such file or directory", e.Message, StringComparison.Ordinal);

        Assert.False(Posix.TryLStat(missing, out _, out int errno));
        Assert.Equal(ENOENT, errno);

        Assert.Throws<PosixException>(() => Posix.Unlink(missing));
        Assert.Throws<PosixException>(() => Posix.LStat([0x61, 0x00, 0x62])); // embedded NUL is refused, not truncated
    }

    [Fact]
    public void Link_reports_an_existing_target_as_false()
    {
        string a = Encoding.UTF8.GetString(P("a"));
        string b = Encoding.UTF8.GetString(P("b"));
        File.WriteAllText(a, "x");

        Assert.True(Posix.Link(a, b));
        Assert.False(Posix.Link(a, b));
        Assert.Equal(2UL, Posix.LStat(P("b")).NLink);
        Assert.True(Assert.Throws<PosixException>(() => Posix.Link(a + "-missing", b + "2")).IsNotFound);
        Assert.Equal(EEXIST, Assert.Throws<PosixException>(() => Posix.HardLink(P("a"), P("b"))).Errno);

        Posix.FSyncDirectory(Encoding.UTF8.GetString(_root));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void Unnamed_files_get_their_name_by_path_or_in_an_opened_folder_and_never_through_a_symlink(bool inFolder, bool byDescriptor)
    {
        Assert.True(!byDescriptor || Posix.GetEuid() == 0); // linkat with AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH
        byte[] dir = P("d");
        Posix.Mkdir(dir, Convert.ToUInt32("755", 8));
        using SafeFileHandle folder = Posix.OpenFolderPath(dir);
        SafeFileHandle? Make() => inFolder ? Posix.TryCreateUnnamed(folder, dir, 384) : Posix.TryCreateUnnamed(dir, 384);
        bool Link(SafeFileHandle h, string name) =>
            inFolder ? Posix.TryLinkUnnamed(h, Posix.ToBytes(name), byDescriptor, folder) : Posix.TryLinkUnnamed(h, Posix.Join(dir, Posix.ToBytes(name)), byDescriptor);

        using (SafeFileHandle? h = Make())
        {
            Assert.NotNull(h);
            Posix.PWrite(h, "hello"u8, 0, "test");
            Assert.Empty(Posix.ReadDirectory(dir)); // no name until linked
            Assert.True(Link(h, "f"));
            Assert.False(Link(h, "f")); // an existing name is reported, not replaced
        }
        Assert.Equal("hello", File.ReadAllText(Path.Combine(Encoding.UTF8.GetString(dir), "f")));

        // A symlink under the name is neither followed nor replaced.
        string outside = Encoding.UTF8.GetString(P("outside"));
        Posix.Symlink(Posix.ToBytes(outside), Posix.Join(dir, Posix.ToBytes("s")));
        using (SafeFileHandle? h = Make())
        {
            Assert.False(Link(h!, "s"));
        }
        Assert.False(File.Exists(outside));
        Assert.Equal(FileKind.Symlink, Posix.LStat(Posix.Join(dir, Posix.ToBytes("s"))).Kind);

        // The opened folder is the folder itself, never a symlink to one.
        byte[] link = P("link");
        Posix.Symlink(dir, link);
        Assert.Equal(20 /* ENOTDIR: O_NOFOLLOW with O_DIRECTORY */, Assert.Throws<PosixException>(() => Posix.OpenFolderPath(link)).Errno);
    }

    [Fact]
    public void MkNod_creates_a_char_device_whose_rdev_round_trips()
    {
        Assert.Equal(0u, Posix.GetEuid()); // creating device nodes needs root (CAP_MKNOD)
        ulong rdev = Posix.MakeDev(1, 3);
        Assert.Equal(0x103UL, rdev);
        byte[] path = P("null");
        Posix.MkNod(path, FileKind.CharDevice, Octal("666"), rdev);

        FileStat st = Posix.LStat(path);
        Assert.Equal(FileKind.CharDevice, st.Kind);
        Assert.Equal(rdev, st.RDev);
        Assert.Equal(1u, Posix.Major(st.RDev));
        Assert.Equal(3u, Posix.Minor(st.RDev));
        Assert.Equal(rdev, Posix.LStat("/dev/null"u8.ToArray()).RDev);

        // Large numbers use the split glibc encoding (major bits above 12, minor bits above 8).
        ulong huge = Posix.MakeDev(0x12345, 0x6789abcd);
        Assert.Equal(0x12345u, Posix.Major(huge));
        Assert.Equal(0x6789abcdu, Posix.Minor(huge));
        // The kernel keeps 12 bits of major and 20 of minor; the largest such pair round-trips through the file system.
        ulong big = Posix.MakeDev(0xfff, 0xfffff);
        Assert.Equal(0xffff_ffffUL, big); // fits the 32 bits of the kernel's dev_t exactly
        Posix.MkNod(P("big"), FileKind.BlockDevice, Octal("600"), big);
        FileStat b = Posix.LStat(P("big"));
        Assert.Equal(FileKind.BlockDevice, b.Kind);
        Assert.Equal(big, b.RDev);

        Posix.MkNod(P("sock"), FileKind.Socket, Octal("600"), 0);
        Assert.Equal(FileKind.Socket, Posix.LStat(P("sock")).Kind);
    }

    [Fact]
    public void LChown_Mkdir_Rename_and_Unlink_change_the_file_system()
    {
        byte[] file = P("file");
        WriteAll(file, [1]);
        byte[] link = P("link");
        Posix.Symlink(file, link);

        Posix.LChown(link, 1234, 5678);
        FileStat l = Posix.LStat(link);
        Assert.Equal((1234u, 5678u), (l.Uid, l.Gid));
        Assert.Equal(0u, Posix.LStat(file).Uid); // not followed

        byte[] dir = P("dir");
        Posix.Mkdir(dir, Octal("755"));
        Posix.Mkdir(dir, Octal("755")); // an existing directory is fine
        Assert.Equal(EEXIST, Assert.Throws<PosixException>(() => Posix.Mkdir(file, Octal("755"))).Errno);
        Assert.Equal(EEXIST, Assert.Throws<PosixException>(() => Posix.Mkdir(link, Octal("755"))).Errno);

        byte[] moved = Posix.Join(dir, [0xc3, 0x28]);
        Posix.Rename(file, moved);
        Assert.False(Posix.TryLStat(file, out _, out _));
        Assert.Equal(FileKind.Regular, Posix.LStat(moved).Kind);

        Posix.Unlink(moved);
        Assert.Empty(Posix.ReadDirectory(dir));
    }

    [Fact]
    public void Display_Join_and_ToBytes()
    {
        Assert.Equal("a/é", Posix.Display(Encoding.UTF8.GetBytes("a/é")));
        Assert.Equal("a\\xc3(b\\xff", Posix.Display([0x61, 0xc3, 0x28, 0x62, 0xff]));
        Assert.Equal("", Posix.Display([]));

        Assert.Equal("/a/b"u8.ToArray(), Posix.Join("/a"u8.ToArray(), "b"u8.ToArray()));
        Assert.Equal("/a/b"u8.ToArray(), Posix.Join("/a/"u8.ToArray(), "b"u8.ToArray()));
        Assert.Equal("/b"u8.ToArray(), Posix.Join("/"u8.ToArray(), "b"u8.ToArray()));

        Assert.Equal(new byte[] { 0x2f, 0xc3, 0xa9 }, Posix.ToBytes("/é"));
        Assert.Equal("No such file or directory", Posix.StrError(ENOENT));
    }
}
