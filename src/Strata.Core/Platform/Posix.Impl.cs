using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Strata.Platform;

public static unsafe partial class Posix
{
    // Paths up to this length are NUL-terminated on the stack; longer ones (rare) allocate.
    private const int StackPathMax = 512;

    // ---------------------------------------------------------------- stat

    /// <summary>statx of <paramref name="path"/> without following a final symlink.</summary>
    public static FileStat LStat(byte[] path)
    {
        if (!TryLStat(path, out FileStat stat, out int errno))
        {
            throw new PosixException(errno, "lstat", Display(path));
        }
        return stat;
    }

    /// <summary>Like <see cref="LStat"/>, but reports failure as an errno instead of throwing.</summary>
    public static bool TryLStat(byte[] path, out FileStat stat, out int errno)
    {
        Span<byte> buf = path.Length < StackPathMax ? stackalloc byte[StackPathMax] : new byte[path.Length + 1];
        Statx sx;
        fixed (byte* p = Terminate(path, buf, "lstat"))
        {
            if (SysStatx(AT_FDCWD, p, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) != 0)
            {
                errno = Marshal.GetLastPInvokeError();
                stat = default;
                return false;
            }
        }
        errno = 0;
        stat = ToFileStat(in sx);
        return true;
    }

    /// <summary>statx of an open file (AT_EMPTY_PATH): compare with the lstat taken before opening to detect a change.</summary>
    public static FileStat FStat(SafeFileHandle h)
    {
        byte empty = 0;
        Statx sx;
        if (SysStatx(h, &empty, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) != 0)
        {
            throw new PosixException(Marshal.GetLastPInvokeError(), "fstat", $"fd {h.DangerousGetHandle()}");
        }
        return ToFileStat(in sx);
    }

    /// <summary>dev_t as glibc's gnu_dev_makedev encodes it (the value stat's st_dev/st_rdev and mknod use).</summary>
    public static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0x00000fffu) << 8)
        | ((ulong)(major & 0xfffff000u) << 32)
        | (minor & 0x000000ffu)
        | ((ulong)(minor & 0xffffff00u) << 12);

    /// <summary>The major number of a glibc dev_t (gnu_dev_major).</summary>
    public static uint Major(ulong dev) => (uint)(((dev >> 8) & 0x00000fffu) | ((dev >> 32) & 0xfffff000u));

    /// <summary>The minor number of a glibc dev_t (gnu_dev_minor).</summary>
    public static uint Minor(ulong dev) => (uint)((dev & 0x000000ffu) | ((dev >> 12) & 0xffffff00u));

    private static FileStat ToFileStat(in Statx sx) => new(
        KindOf(sx.Mode),
        sx.Mode & 0xFFFu,
        sx.Uid,
        sx.Gid,
        (long)sx.Size,
        Nanoseconds(sx.MTime),
        Nanoseconds(sx.CTime),
        Nanoseconds(sx.ATime),
        sx.Ino,
        MakeDev(sx.DevMajor, sx.DevMinor),
        sx.NLink,
        MakeDev(sx.RDevMajor, sx.RDevMinor),
        (long)sx.Blocks);

    // Wraps for times beyond the year 2262 (the range of long nanoseconds).
    private static long Nanoseconds(StatxTimestamp t) => unchecked((t.Sec * 1_000_000_000L) + t.Nsec);

    /// <summary>The file type in the S_IFMT bits; 0 (no named value) for a type Linux does not define.</summary>
    private static FileKind KindOf(uint mode) => (mode & S_IFMT) switch
    {
        S_IFREG => FileKind.Regular,
        S_IFDIR => FileKind.Directory,
        S_IFLNK => FileKind.Symlink,
        S_IFCHR => FileKind.CharDevice,
        S_IFBLK => FileKind.BlockDevice,
        S_IFIFO => FileKind.Fifo,
        S_IFSOCK => FileKind.Socket,
        _ => 0,
    };

    // ---------------------------------------------------------------- directories

    /// <summary>
    /// The entries of a directory except "." and "..", sorted by name bytes (ordinal) so walks are deterministic.
    /// Memory: one byte[] per entry holding the raw name.
    /// </summary>
    public static List<DirEntry> ReadDirectory(byte[] path)
    {
        Span<byte> buf = path.Length < StackPathMax ? stackalloc byte[StackPathMax] : new byte[path.Length + 1];
        nint dir;
        fixed (byte* p = Terminate(path, buf, "opendir"))
        {
            dir = SysOpendir(p);
        }
        if (dir == 0)
        {
            throw new PosixException(Marshal.GetLastPInvokeError(), "opendir", Display(path));
        }
        var entries = new List<DirEntry>();
        try
        {
            while (true)
            {
                byte* ent = SysReaddir(dir);
                if (ent == null)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno != 0)
                    {
                        throw new PosixException(errno, "readdir", Display(path));
                    }
                    break;
                }
                var name = new ReadOnlySpan<byte>(ent + DirentNameOffset, DirentNameMax);
                int len = name.IndexOf((byte)0);
                name = name[..(len < 0 ? DirentNameMax : len)];
                if (name.SequenceEqual("."u8) || name.SequenceEqual(".."u8))
                {
                    continue;
                }
                entries.Add(new DirEntry(name.ToArray()));
            }
        }
        finally
        {
            _ = SysClosedir(dir);
        }
        entries.Sort(static (a, b) => a.Name.AsSpan().SequenceCompareTo(b.Name));
        return entries;
    }

    /// <summary>mkdir; an existing directory (not a symlink to one) at <paramref name="path"/> is success. The umask applies.</summary>
    public static void Mkdir(byte[] path, uint mode)
    {
        Span<byte> buf = path.Length < StackPathMax ? stackalloc byte[StackPathMax] : new byte[path.Length + 1];
        fixed (byte* p = Terminate(path, buf, "mkdir"))
        {
            if (SysMkdir(p, mode) == 0)
            {
                return;
            }
        }
        int errno = Marshal.GetLastPInvokeError();
        if (errno == EEXIST && TryLStat(path, out FileStat st, out _) && st.Kind == FileKind.Directory)
        {
            return;
        }
        throw new PosixException(errno, "mkdir", Display(path));
    }

    /// <summary>fsync of a directory, making a link or rename in it durable. EINVAL (a file system that cannot sync directories) is ignored.</summary>
    public static void FSyncDirectory(string path)
    {
        byte[] bytes = ToBytes(path);
        int fd = OpenRaw(bytes, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, "open");
        try
        {
            if (SysFsync(fd) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno != EINVAL)
                {
                    throw new PosixException(errno, "fsync", path);
                }
            }
        }
        finally
        {
            _ = SysClose(fd);
        }
    }

    // ---------------------------------------------------------------- files

    /// <summary>
    /// Opens a file for reading: O_RDONLY|O_NOFOLLOW|O_CLOEXEC, with O_NOATIME when permitted (owner or CAP_FOWNER).
    /// O_NONBLOCK is added too: it has no effect on regular files, and a path replaced by a FIFO between lstat and
    /// open then cannot hang the caller (compare <see cref="FStat"/> with the earlier lstat).
    /// A final symlink fails with ELOOP.
    /// </summary>
    public static SafeFileHandle OpenRead(byte[] path)
    {
        const int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
        int fd = TryOpen(path, flags | O_NOATIME, 0, out int errno);
        if (fd < 0 && errno == EPERM)
        {
            fd = TryOpen(path, flags, 0, out errno);
        }
        if (fd < 0)
        {
            throw new PosixException(errno, "open", Display(path));
        }
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>Creates a file that must not exist yet (O_EXCL, never through a symlink); the umask applies to <paramref name="mode"/>.</summary>
    public static SafeFileHandle CreateNew(byte[] path, uint mode) =>
        new(OpenRaw(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode, "open"), ownsHandle: true);

    /// <summary>
    /// open(<paramref name="dir"/>, O_TMPFILE|O_WRONLY): a file with no name yet in that folder's file system, given one
    /// later by <see cref="TryLinkUnnamed"/> (until then it is freed on close). Null when the file system or kernel does
    /// not offer it (EOPNOTSUPP, EISDIR or EINVAL from kernels before 3.11).
    /// </summary>
    public static SafeFileHandle? TryCreateUnnamed(byte[] dir, uint mode)
    {
        int fd = TryOpen(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, mode, out int errno);
        if (fd >= 0)
        {
            return new SafeFileHandle(fd, ownsHandle: true);
        }
        if (errno is ENOTSUP or EISDIR or EINVAL)
        {
            return null;
        }
        throw new PosixException(errno, "open(O_TMPFILE)", Display(dir));
    }

    /// <summary>
    /// A folder opened only to make and name files in it (O_PATH, never through a symlink), so that each file's
    /// <see cref="TryCreateUnnamed(SafeFileHandle, uint)"/> and <see cref="TryLinkUnnamed"/> spare the kernel walking
    /// the whole path again.
    /// </summary>
    public static SafeFileHandle OpenFolderPath(byte[] path) =>
        new(OpenRaw(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0, "open"), ownsHandle: true);

    /// <summary>
    /// <see cref="TryCreateUnnamed(byte[], uint)"/> in a folder opened by <see cref="OpenFolderPath"/>, which the caller
    /// keeps open (a reference of its own, see SafeHandle.DangerousAddRef); errors name <paramref name="shownAs"/>.
    /// </summary>
    public static SafeFileHandle? TryCreateUnnamed(SafeFileHandle dir, byte[] shownAs, uint mode)
    {
        byte* dot = stackalloc byte[2] { (byte)'.', 0 };
        int dirFd = (int)dir.DangerousGetHandle();
        while (true)
        {
            int fd = SysOpenat(dirFd, dot, O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
            if (fd >= 0)
            {
                return new SafeFileHandle(fd, ownsHandle: true);
            }
            int errno = Marshal.GetLastPInvokeError();
            if (errno is ENOTSUP or EISDIR or EINVAL)
            {
                return null;
            }
            if (errno != EINTR)
            {
                throw new PosixException(errno, "open(O_TMPFILE)", Display(shownAs));
            }
        }
    }

    /// <summary>
    /// Gives a file made by <see cref="TryCreateUnnamed(byte[], uint)"/> its name: <paramref name="path"/>, or with
    /// <paramref name="dir"/> (from <see cref="OpenFolderPath"/>, kept open by the caller as for
    /// <see cref="TryCreateUnnamed(SafeFileHandle, byte[], uint)"/>) the name <paramref name="path"/> in that folder. With
    /// <paramref name="byDescriptor"/>, linkat(fd, "", AT_EMPTY_PATH): needs CAP_DAC_READ_SEARCH (root has it; others get
    /// ENOENT) and spares the kernel resolving a /proc path for every file; otherwise linkat of /proc/self/fd/N, which
    /// needs no capability. False when the name exists; the final component is never followed.
    /// </summary>
    public static bool TryLinkUnnamed(SafeFileHandle h, byte[] path, bool byDescriptor = false, SafeFileHandle? dir = null)
    {
        int fd = (int)h.DangerousGetHandle();
        Span<byte> from = stackalloc byte[40];
        int n = byDescriptor ? 0 : System.Text.Encoding.ASCII.GetBytes($"/proc/self/fd/{fd}", from);
        from[n] = 0;
        int oldDir = byDescriptor ? fd : AT_FDCWD;
        int flags = byDescriptor ? AT_EMPTY_PATH : AT_SYMLINK_FOLLOW;
        int newDir = dir is null ? AT_FDCWD : (int)dir.DangerousGetHandle();
        Span<byte> buf = path.Length < StackPathMax ? stackalloc byte[StackPathMax] : new byte[path.Length + 1];
        fixed (byte* p1 = from)
        fixed (byte* p2 = Terminate(path, buf, "linkat"))
        {
            while (true)
            {
                if (SysLinkat(oldDir, p1, newDir, p2, flags) == 0)
                {
                    return true;
                }
                int errno = Marshal.GetLastPInvokeError();
                if (errno == EEXIST)
                {
                    return false;
                }
                if (errno != EINTR)
                {
                    throw new PosixException(errno, "linkat", Display(path));
                }
            }
        }
    }

    /// <summary>Opens an existing file for writing without truncating it (never through a symlink).</summary>
    public static SafeFileHandle OpenWrite(byte[] path) =>
        new(OpenRaw(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0, "open"), ownsHandle: true);

    public static void FSync(SafeFileHandle h)
    {
        if (SysFsync(h) != 0)
        {
            throw new PosixException(Marshal.GetLastPInvokeError(), "fsync", $"fd {h.DangerousGetHandle()}");
        }
    }

    public static void FTruncate(SafeFileHandle h, long length)
    {
        if (SysFtruncate(h, length) != 0)
        {
            throw new PosixException(Marshal.GetLastPInvokeError(), "ftruncate", $"fd {h.DangerousGetHandle()}");
        }
    }

    /// <summary>
    /// Turns O_DIRECT on or off for an open file (fcntl F_SETFL): its writes then go to the device without passing
    /// through the page cache, and must be aligned (offset, length and memory). False when the file system does not do
    /// direct I/O (EINVAL: tmpfs, some FUSE file systems).
    /// </summary>
    public static bool TrySetDirect(SafeFileHandle h, bool on)
    {
        int flags = SysFcntl(h, F_GETFL, 0);
        if (flags < 0)
        {
            throw new PosixException(Marshal.GetLastPInvokeError(), "fcntl(F_GETFL)", $"fd {h.DangerousGetHandle()}");
        }
        int want = on ? flags | O_DIRECT : flags & ~O_DIRECT;
        if (want == flags || SysFcntl(h, F_SETFL, want) == 0)
        {
            return true;
        }
        int errno = Marshal.GetLastPInvokeError();
        return errno == EINVAL ? false : throw new PosixException(errno, "fcntl(F_SETFL)", $"fd {h.DangerousGetHandle()}");
    }

    /// <summary>pwrite(2) of all of <paramref name="data"/> at <paramref name="offset"/>, through short writes and EINTR; errors name <paramref name="what"/>.</summary>
    public static void PWrite(SafeFileHandle h, ReadOnlySpan<byte> data, long offset, string what)
    {
        fixed (byte* p = data)
        {
            int done = 0;
            while (done < data.Length)
            {
                nint n = SysPwrite(h, p + done, (nuint)(data.Length - done), offset + done);
                if (n < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == EINTR)
                    {
                        continue;
                    }
                    throw new PosixException(errno, "write", what);
                }
                if (n == 0)
                {
                    throw new PosixException(28 /* ENOSPC */, "write", what);
                }
                done += (int)n;
            }
        }
    }

    /// <summary>lseek(SEEK_DATA): the first data offset at or after <paramref name="offset"/>, or -1 when there is none (ENXIO). Moves the file position.</summary>
    public static long SeekData(SafeFileHandle h, long offset) => Seek(h, offset, SEEK_DATA, "lseek(SEEK_DATA)");

    /// <summary>lseek(SEEK_HOLE): the first hole at or after <paramref name="offset"/> (end of file counts as a hole), or -1 past the end (ENXIO). Moves the file position.</summary>
    public static long SeekHole(SafeFileHandle h, long offset) => Seek(h, offset, SEEK_HOLE, "lseek(SEEK_HOLE)");

    private static long Seek(SafeFileHandle h, long offset, int whence, string op)
    {
        long r = SysLseek(h, offset, whence);
        if (r >= 0)
        {
            return r;
        }
        int errno = Marshal.GetLastPInvokeError();
        if (errno == ENXIO)
        {
            return -1;
        }
        throw new PosixException(errno, op, $"fd {h.DangerousGetHandle()} offset {offset}");
    }

    /// <summary>
    /// The data regions of the first <paramref name="size"/> bytes of a file, in order; holes are left out.
    /// A file system without SEEK_DATA (EINVAL) yields one extent covering the whole file. Moves the file position.
    /// </summary>
    public static List<(long Offset, long Length)> DataExtents(SafeFileHandle h, long size)
    {
        var extents = new List<(long Offset, long Length)>();
        long pos = 0;
        while (pos < size)
        {
            long data = SysLseek(h, pos, SEEK_DATA);
            if (data < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == ENXIO)
                {
                    break;
                }
                if (errno == EINVAL && pos == 0)
                {
                    extents.Add((0, size));
                    break;
                }
                throw new PosixException(errno, "lseek(SEEK_DATA)", $"fd {h.DangerousGetHandle()} offset {pos}");
            }
            if (data >= size)
            {
                break;
            }
            // ENXIO here means the file shrank under us: the data runs to the size the caller asked about.
            long hole = SeekHole(h, data);
            if (hole < 0 || hole > size)
            {
                hole = size;
            }
            if (hole <= data)
            {
                break;
            }
            extents.Add((data, hole - data));
            pos = hole;
        }
        return extents;
    }

    /// <summary>link(2) for store files: true when <paramref name="newPath"/> was created, false when it already exists.</summary>
    public static bool Link(string existing, string newPath)
    {
        byte[] a = ToBytes(existing);
        byte[] b = ToBytes(newPath);
        if (LinkRaw(a, b) == 0)
        {
            return true;
        }
        int errno = Marshal.GetLastPInvokeError();
        if (errno == EEXIST)
        {
            return false;
        }
        throw new PosixException(errno, "link", $"{existing} -> {newPath}");
    }

    /// <summary>link(2): a new name for an existing file; an existing <paramref name="newPath"/> is an error (EEXIST).</summary>
    public static void HardLink(byte[] existing, byte[] newPath)
    {
        if (LinkRaw(existing, newPath) != 0)
        {
            throw new PosixException(Marshal.GetLastPInvokeError(), "link", $"{Display(existing)} -> {Display(newPath)}");
        }
    }

    private static int LinkRaw(byte[] existing, byte[] newPath)
    {
        Span<byte> b1 = existing.Length < StackPathMax ? stackalloc byte[StackPathMax] : new byte[existing.Length + 1];
        Span<byte> b2 = newPath.Length < StackPathMax ? stackalloc byte[StackPathMax] : new byte[newPath.Length + 1];
        fixed (byte* p1 = Terminate(existing, b1, "link"))
        fixed (byte* p2 = Terminate(newPath, b2, "link"))
        {
            return SysLink(p1, p2);
        }
    }

    /// <summary>
    /// Creates a device node, FIFO or socket (or an empty regular file). <paramref name="rdev"/> is a glibc dev_t
    /// (see <see cref="MakeDev"/>, <see cref="FileStat.RDev"/>); it is ignored for FIFOs and sockets. The umask applies.
    /// </summary>
    public static void MkNod(byte[] path, FileKind kind, uint mode, ulong rdev)
    {
        uint type = kind switch
        {
            FileKind.CharDevice => S_IFCHR,
            FileKind.BlockDevice => S_IFBLK,
            FileKind.Fifo => S_IFIFO,
            FileKind.Socket => S_IFSOCK,
            FileKind.Regular => S_IFREG,
            _ => throw new ArgumentException($"mknod cannot create a {kind}", nameof(kind)),
        };
        uint fullMode = type | (mode & 0xFFFu);
        ulong dev = kind is FileKind.CharDevice or FileKind.BlockDevice ? rdev : 0;
        Span<byte> buf = path.Length < StackPathMax ? stackalloc byte[StackPathMax] : new byte[path.Length + 1];
        int r;
        fixed (byte* p = Terminate(path, buf, "mknod"))
        {
            try
            {
                r = SysMknod(p, fullMode, dev);
            }
            catch (EntryPointNotFoundException)
            {
                r = SysXmknod(0, p, fullMode, &dev); // glibc < 2.33: _MKNOD_VER is 0 on x86_64
            }
        }
        if (r != 0)
        {
            throw new PosixException(Marshal.GetLastPInvokeError(), "mknod", Display(path));
        }
    }

    public static void Unlink(byte[] path)
    {
        Span<byte> buf = path.Length < StackPathMax ? stackalloc byte[StackPathMax] : new byte[path.Length + 1];
        fixed (byte* p = Terminate(path, buf, "unlink"))
        {
            if (SysUnlink(p) != 0)
            {
                throw new PosixException(Marshal.GetLastPInvokeError(), "unlink", Display(path));
            }
        }
    }

    /// <summary>rmdir: removes an empty directory.</summary>
    public static void RemoveDirectory(byte[] path)
    {
        Span<byte> buf = path.Length < StackPathMax ? stackalloc byte[StackPathMax] : new byte[path.Length + 1];
        fixed (byte* p = Terminate(path, buf, "rmdir"))
        {
            if (SysRmdir(p) != 0)
            {
                throw new PosixException(Marshal.GetLastPInvokeError(), "rmdir", Display(path));
            }
        }
    }

    /// <summary>rename(2): atomically replaces <paramref name="to"/> if it exists.</summary>
    public static void Rename(byte[] from, byte[] to)
    {
        Span<byte> b1 = from.Length < StackPathMax ? stackalloc byte[StackPathMax] : new byte[from.Length + 1];
        Span<byte> b2 = to.Length < StackPathMax ? stackalloc byte[StackPathMax] : new byte[to.Length + 1];
        fixed (byte* p1 = Terminate(from, b1, "rename"))
        fixed (byte* p2 = Terminate(to, b2, "rename"))
        {
            if (SysRename(p1, p2) != 0)
            {
                throw new PosixException(Marshal.GetLastPInvokeError(), "rename", $"{Display(from)} -> {Display(to)}");
            }
        }
    }

    // ---------------------------------------------------------------- symlinks

    /// <summary>The target of a symlink, byte for byte.</summary>
    public static byte[] ReadLink(byte[] path)
    {
        Span<byte> buf = path.Length < StackPathMax ? stackalloc byte[StackPathMax] : new byte[path.Length + 1];
        fixed (byte* p = Terminate(path, buf, "readlink"))
        {
            int size = 256;
            while (true)
            {
                byte[] target = new byte[size];
                nint n;
                fixed (byte* t = target)
                {
                    n = SysReadlink(p, t, (nuint)target.Length);
                }
                if (n < 0)
                {
                    throw new PosixException(Marshal.GetLastPInvokeError(), "readlink", Display(path));
                }
                if (n < target.Length)
                {
                    return target.AsSpan(0, (int)n).ToArray();
                }
                size *= 2; // possibly truncated: retry with more room
            }
        }
    }

    /// <summary>Creates <paramref name="linkPath"/> pointing at <paramref name="target"/> (stored verbatim, not resolved).</summary>
    public static void Symlink(byte[] target, byte[] linkPath)
    {
        Span<byte> b1 = target.Length < StackPathMax ? stackalloc byte[StackPathMax] : new byte[target.Length + 1];
        Span<byte> b2 = linkPath.Length < StackPathMax ? stackalloc byte[StackPathMax] : new byte[linkPath.Length + 1];
        fixed (byte* p1 = Terminate(target, b1, "symlink"))
        fixed (byte* p2 = Terminate(linkPath, b2, "symlink"))
        {
            if (SysSymlink(p1, p2) != 0)
            {
                throw new PosixException(Marshal.GetLastPInvokeError(), "symlink", $"{Display(linkPath)} -> {Display(target)}");
            }
        }
    }

    // ---------------------------------------------------------------- xattrs

    /// <summary>
    /// The extended attributes of <paramref name="path"/> itself (a symlink is not followed), sorted by name bytes.
    /// A file system without xattr support yields an empty list; an attribute removed while listing is skipped.
    /// </summary>
    public static List<(byte[] Name, byte[] Value)> ListXattrs(byte[] path)
    {
        var result = new List<(byte[] Name, byte[] Value)>();
        Span<byte> buf = path.Length < StackPathMax ? stackalloc byte[StackPathMax] : new byte[path.Length + 1];
        fixed (byte* p = Terminate(path, buf, "llistxattr"))
        {
            byte[] names = ReadXattrNames(p, path);
            int start = 0;
            while (start < names.Length)
            {
                int end = Array.IndexOf(names, (byte)0, start);
                if (end < 0)
                {
                    end = names.Length;
                }
                if (end > start)
                {
                    byte[] name = names.AsSpan(start, end - start).ToArray();
                    byte[]? value = ReadXattrValue(p, path, name);
                    if (value is not null)
                    {
                        result.Add((name, value));
                    }
                }
                start = end + 1;
            }
        }
        result.Sort(static (a, b) => a.Name.AsSpan().SequenceCompareTo(b.Name));
        return result;
    }

    private static byte[] ReadXattrNames(byte* p, byte[] path)
    {
        while (true)
        {
            nint size = SysLlistxattr(p, null, 0);
            if (size < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == ENOTSUP)
                {
                    return [];
                }
                throw new PosixException(errno, "llistxattr", Display(path));
            }
            if (size == 0)
            {
                return [];
            }
            byte[] names = new byte[size];
            nint n;
            fixed (byte* l = names)
            {
                n = SysLlistxattr(p, l, (nuint)names.Length);
            }
            if (n >= 0)
            {
                return n == names.Length ? names : names.AsSpan(0, (int)n).ToArray();
            }
            int e = Marshal.GetLastPInvokeError();
            if (e != ERANGE) // ERANGE: the list grew between the two calls
            {
                throw new PosixException(e, "llistxattr", Display(path));
            }
        }
    }

    /// <summary>The value of one attribute; null when it vanished meanwhile (ENODATA).</summary>
    private static byte[]? ReadXattrValue(byte* p, byte[] path, byte[] name)
    {
        Span<byte> nbuf = stackalloc byte[name.Length + 1]; // xattr names are at most 255 bytes
        name.CopyTo(nbuf);
        nbuf[name.Length] = 0;
        fixed (byte* n = nbuf)
        {
            while (true)
            {
                nint size = SysLgetxattr(p, n, null, 0);
                if (size < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == ENODATA)
                    {
                        return null;
                    }
                    throw new PosixException(errno, "lgetxattr", $"{Display(path)} {Display(name)}");
                }
                byte[] value = new byte[size];
                if (size == 0)
                {
                    return value;
                }
                nint got;
                fixed (byte* v = value)
                {
                    got = SysLgetxattr(p, n, v, (nuint)value.Length);
                }
                if (got >= 0)
                {
                    return got == value.Length ? value : value.AsSpan(0, (int)got).ToArray();
                }
                int e = Marshal.GetLastPInvokeError();
                if (e == ENODATA)
                {
                    return null;
                }
                if (e != ERANGE) // ERANGE: the value grew between the two calls
                {
                    throw new PosixException(e, "lgetxattr", $"{Display(path)} {Display(name)}");
                }
            }
        }
    }

    /// <summary>lsetxattr: creates or replaces one attribute on <paramref name="path"/> itself (a symlink is not followed).</summary>
    public static void SetXattr(byte[] path, byte[] name, byte[] value)
    {
        Span<byte> b1 = path.Length < StackPathMax ? stackalloc byte[StackPathMax] : new byte[path.Length + 1];
        Span<byte> b2 = name.Length < StackPathMax ? stackalloc byte[StackPathMax] : new byte[name.Length + 1];
        fixed (byte* p = Terminate(path, b1, "lsetxattr"))
        fixed (byte* n = Terminate(name, b2, "lsetxattr"))
        fixed (byte* v = value)
        {
            if (SysLsetxattr(p, n, v, (nuint)value.Length, 0) != 0)
            {
                throw new PosixException(Marshal.GetLastPInvokeError(), "lsetxattr", $"{Display(path)} {Display(name)}");
            }
        }
    }

    // ---------------------------------------------------------------- ownership, mode, times

    /// <summary>lchown: changes the owner of <paramref name="path"/> itself (a symlink is not followed).</summary>
    public static void LChown(byte[] path, uint uid, uint gid)
    {
        Span<byte> buf = path.Length < StackPathMax ? stackalloc byte[StackPathMax] : new byte[path.Length + 1];
        fixed (byte* p = Terminate(path, buf, "lchown"))
        {
            if (SysLchown(p, uid, gid) != 0)
            {
                throw new PosixException(Marshal.GetLastPInvokeError(), "lchown", Display(path));
            }
        }
    }

    /// <summary>
    /// execv: replaces this process with <paramref name="path"/>, run with <paramref name="argv"/> (argv[0] included)
    /// and this process's environment. Returns only by throwing, when the program cannot be started. The new program
    /// keeps this process's id, open descriptors without close-on-exec, and its standard streams, so signals sent to
    /// this process (SIGTERM from a service manager) reach it.
    /// </summary>
    public static void Exec(string path, IReadOnlyList<string> argv)
    {
        // path and every argument NUL-terminated, back to back in one pinned block; argv points into it
        byte[] block = Encoding.UTF8.GetBytes(string.Concat(argv.Prepend(path).Select(a => a + "\0")));
        var ptrs = new nint[argv.Count + 1];
        fixed (byte* b = block)
        fixed (nint* p = ptrs)
        {
            int at = Array.IndexOf(block, (byte)0) + 1;
            for (int i = 0; i < argv.Count; i++)
            {
                ptrs[i] = (nint)(b + at);
                at = Array.IndexOf(block, (byte)0, at) + 1;
            }
            SysExecv(b, (byte**)p);
            throw new PosixException(Marshal.GetLastPInvokeError(), "execv", path);
        }
    }

    /// <summary>chmod (follows symlinks: never call it on one). Setuid/setgid bits survive only when set after <see cref="LChown"/>.</summary>
    public static void Chmod(byte[] path, uint mode)
    {
        Span<byte> buf = path.Length < StackPathMax ? stackalloc byte[StackPathMax] : new byte[path.Length + 1];
        fixed (byte* p = Terminate(path, buf, "chmod"))
        {
            if (SysChmod(p, mode & 0xFFFu) != 0)
            {
                throw new PosixException(Marshal.GetLastPInvokeError(), "chmod", Display(path));
            }
        }
    }

    /// <summary>utimensat with AT_SYMLINK_NOFOLLOW: sets access and modification time of <paramref name="path"/> itself, symlinks included.</summary>
    public static void SetTimes(byte[] path, long atimeNs, long mtimeNs)
    {
        Timespec* times = stackalloc Timespec[2];
        times[0] = ToTimespec(atimeNs);
        times[1] = ToTimespec(mtimeNs);
        Span<byte> buf = path.Length < StackPathMax ? stackalloc byte[StackPathMax] : new byte[path.Length + 1];
        fixed (byte* p = Terminate(path, buf, "utimensat"))
        {
            if (SysUtimensat(AT_FDCWD, p, times, AT_SYMLINK_NOFOLLOW) != 0)
            {
                throw new PosixException(Marshal.GetLastPInvokeError(), "utimensat", Display(path));
            }
        }
    }

    // The same through an open file: no path lookup per call (a restore of many small files sets all three per file).

    /// <summary>fsetxattr on an open file; <paramref name="display"/> names it in errors.</summary>
    public static void FSetXattr(SafeFileHandle h, byte[] name, byte[] value, string display)
    {
        Span<byte> b = name.Length < StackPathMax ? stackalloc byte[StackPathMax] : new byte[name.Length + 1];
        fixed (byte* n = Terminate(name, b, "fsetxattr"))
        fixed (byte* v = value)
        {
            if (SysFsetxattr(h, n, v, (nuint)value.Length, 0) != 0)
            {
                throw new PosixException(Marshal.GetLastPInvokeError(), "fsetxattr", $"{display} {Display(name)}");
            }
        }
    }

    /// <summary>fchown on an open file.</summary>
    public static void FChown(SafeFileHandle h, uint uid, uint gid, string display)
    {
        if (SysFchown(h, uid, gid) != 0)
        {
            throw new PosixException(Marshal.GetLastPInvokeError(), "fchown", display);
        }
    }

    /// <summary>fchmod on an open file. Setuid/setgid bits survive only when set after <see cref="FChown"/>.</summary>
    public static void FChmod(SafeFileHandle h, uint mode, string display)
    {
        if (SysFchmod(h, mode & 0xFFFu) != 0)
        {
            throw new PosixException(Marshal.GetLastPInvokeError(), "fchmod", display);
        }
    }

    /// <summary>futimens: access and modification time of an open file.</summary>
    public static void FSetTimes(SafeFileHandle h, long atimeNs, long mtimeNs, string display)
    {
        Timespec* times = stackalloc Timespec[2];
        times[0] = ToTimespec(atimeNs);
        times[1] = ToTimespec(mtimeNs);
        if (SysFutimens(h, times) != 0)
        {
            throw new PosixException(Marshal.GetLastPInvokeError(), "futimens", display);
        }
    }

    // Floor division, so times before 1970 get a non-negative tv_nsec as the kernel requires.
    private static Timespec ToTimespec(long ns)
    {
        long sec = Math.DivRem(ns, 1_000_000_000L, out long rem);
        if (rem < 0)
        {
            sec--;
            rem += 1_000_000_000L;
        }
        return new Timespec { Sec = sec, Nsec = rem };
    }

    // ---------------------------------------------------------------- users and groups

    // Name lookups go through NSS (files, LDAP, ...) and are slow; a backup asks for the same few ids over and over.
    // Memory: one entry per distinct id or name seen. A null value caches "no such user/group".
    private static readonly ConcurrentDictionary<uint, string?> UserNames = new();
    private static readonly ConcurrentDictionary<uint, string?> GroupNames = new();
    private static readonly ConcurrentDictionary<string, uint?> UserIds = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, uint?> GroupIds = new(StringComparer.Ordinal);

    public static uint GetEuid() => SysGeteuid();

    /// <summary>The user name for <paramref name="uid"/>, or null when there is none.</summary>
    public static string? UserName(uint uid) => UserNames.GetOrAdd(uid, LookUpUserName);

    /// <summary>The group name for <paramref name="gid"/>, or null when there is none.</summary>
    public static string? GroupName(uint gid) => GroupNames.GetOrAdd(gid, LookUpGroupName);

    /// <summary>The uid of user <paramref name="name"/>, or null when there is none.</summary>
    public static uint? UserId(string name) => UserIds.GetOrAdd(name, LookUpUserId);

    /// <summary>The gid of group <paramref name="name"/>, or null when there is none.</summary>
    public static uint? GroupId(string name) => GroupIds.GetOrAdd(name, LookUpGroupId);

    // The getXXX_r calls take a scratch buffer for the strings and answer ERANGE when it is too small. Any other
    // error (NSS backend unreachable, ...) is treated as "unknown", as is not found (0 with a null result).
    private const int LookUpStart = 1024;
    private const int LookUpMax = 1 << 24;

    private static string? LookUpUserName(uint uid)
    {
        Passwd pw;
        for (int size = LookUpStart; size <= LookUpMax; size *= 4)
        {
            byte[] buf = new byte[size];
            int r;
            fixed (byte* b = buf)
            {
                Passwd* result = null;
                r = SysGetpwuidR(uid, &pw, b, (nuint)size, &result);
                if (r == 0)
                {
                    return result == null ? null : CString(result->Name);
                }
            }
            if (r != ERANGE && r != EINTR)
            {
                return null;
            }
        }
        return null;
    }

    private static string? LookUpGroupName(uint gid)
    {
        Group gr;
        for (int size = LookUpStart; size <= LookUpMax; size *= 4)
        {
            byte[] buf = new byte[size];
            int r;
            fixed (byte* b = buf)
            {
                Group* result = null;
                r = SysGetgrgidR(gid, &gr, b, (nuint)size, &result);
                if (r == 0)
                {
                    return result == null ? null : CString(result->Name);
                }
            }
            if (r != ERANGE && r != EINTR)
            {
                return null;
            }
        }
        return null;
    }

    private static uint? LookUpUserId(string name)
    {
        byte[] cname = NulTerminatedName(name);
        Passwd pw;
        for (int size = LookUpStart; size <= LookUpMax; size *= 4)
        {
            byte[] buf = new byte[size];
            int r;
            fixed (byte* b = buf)
            fixed (byte* c = cname)
            {
                Passwd* result = null;
                r = SysGetpwnamR(c, &pw, b, (nuint)size, &result);
                if (r == 0)
                {
                    return result == null ? null : result->Uid;
                }
            }
            if (r != ERANGE && r != EINTR)
            {
                return null;
            }
        }
        return null;
    }

    private static uint? LookUpGroupId(string name)
    {
        byte[] cname = NulTerminatedName(name);
        Group gr;
        for (int size = LookUpStart; size <= LookUpMax; size *= 4)
        {
            byte[] buf = new byte[size];
            int r;
            fixed (byte* b = buf)
            fixed (byte* c = cname)
            {
                Group* result = null;
                r = SysGetgrnamR(c, &gr, b, (nuint)size, &result);
                if (r == 0)
                {
                    return result == null ? null : result->Gid;
                }
            }
            if (r != ERANGE && r != EINTR)
            {
                return null;
            }
        }
        return null;
    }

    private static byte[] NulTerminatedName(string name)
    {
        byte[] b = new byte[Encoding.UTF8.GetByteCount(name) + 1];
        Encoding.UTF8.GetBytes(name, b);
        return b;
    }

    private static string? CString(byte* s) => s == null ? null : Marshal.PtrToStringUTF8((nint)s);

    // ---------------------------------------------------------------- paths and messages

    /// <summary>The strerror text for <paramref name="errno"/>.</summary>
    public static string StrError(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    /// <summary>A path for messages: valid UTF-8 as is, each byte of an invalid sequence as \xNN. Lossy: never turn it back into a path.</summary>
    public static string Display(byte[] path)
    {
        ReadOnlySpan<byte> rest = path;
        if (System.Text.Unicode.Utf8.IsValid(rest))
        {
            return Encoding.UTF8.GetString(rest);
        }
        var sb = new StringBuilder(path.Length + 16);
        while (!rest.IsEmpty)
        {
            var status = Rune.DecodeFromUtf8(rest, out Rune rune, out int consumed);
            if (status == System.Buffers.OperationStatus.Done)
            {
                sb.Append(rune.ToString());
            }
            else
            {
                foreach (byte b in rest[..consumed])
                {
                    sb.Append("\\x").Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
                }
            }
            rest = rest[consumed..];
        }
        return sb.ToString();
    }

    /// <summary><paramref name="dir"/> + '/' + <paramref name="name"/>, without doubling a trailing slash; an empty dir yields the name.</summary>
    public static byte[] Join(byte[] dir, byte[] name)
    {
        if (dir.Length == 0)
        {
            return (byte[])name.Clone();
        }
        bool slash = dir[^1] == (byte)'/';
        byte[] result = new byte[dir.Length + (slash ? 0 : 1) + name.Length];
        dir.CopyTo(result, 0);
        if (!slash)
        {
            result[dir.Length] = (byte)'/';
        }
        name.CopyTo(result, result.Length - name.Length);
        return result;
    }

    /// <summary>The UTF-8 bytes of a .NET path string (for paths that came from the user or from .NET APIs).</summary>
    public static byte[] ToBytes(string path) => Encoding.UTF8.GetBytes(path);

    // ---------------------------------------------------------------- helpers

    /// <summary>Copies <paramref name="path"/> into <paramref name="buffer"/> with a terminating NUL; an embedded NUL is EINVAL.</summary>
    private static Span<byte> Terminate(byte[] path, Span<byte> buffer, string op)
    {
        if (path.AsSpan().Contains((byte)0))
        {
            throw new PosixException(EINVAL, op, Display(path));
        }
        path.CopyTo(buffer);
        buffer[path.Length] = 0;
        return buffer[..(path.Length + 1)];
    }

    private static int TryOpen(byte[] path, int flags, uint mode, out int errno)
    {
        Span<byte> buf = path.Length < StackPathMax ? stackalloc byte[StackPathMax] : new byte[path.Length + 1];
        fixed (byte* p = Terminate(path, buf, "open"))
        {
            while (true)
            {
                int fd = SysOpen(p, flags, mode);
                if (fd >= 0)
                {
                    errno = 0;
                    return fd;
                }
                errno = Marshal.GetLastPInvokeError();
                if (errno != EINTR)
                {
                    return -1;
                }
            }
        }
    }

    private static int OpenRaw(byte[] path, int flags, uint mode, string op)
    {
        int fd = TryOpen(path, flags, mode, out int errno);
        if (fd < 0)
        {
            throw new PosixException(errno, op, Display(path));
        }
        return fd;
    }
}
