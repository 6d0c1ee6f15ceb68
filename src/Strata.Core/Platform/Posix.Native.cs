using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Strata.Platform;

/// <summary>
/// Raw libc entry points and the Linux x86_64 constants and struct layouts they use. Every path argument is a
/// NUL-terminated byte pointer; callers in Posix.Impl.cs add the NUL. Functions that report failure through
/// errno use SetLastError (the generated stub clears errno before the call, so a NULL from readdir with
/// errno 0 means end of directory). A SafeFileHandle parameter is passed as a pointer-sized fd where C takes an
/// int: on Linux x86_64/arm64 the callee reads the low 32 bits of the register, and the marshaller keeps the
/// handle alive (AddRef/Release) for the duration of the call.
/// </summary>
public static unsafe partial class Posix
{
    private const string Libc = "libc";

    // errno values (Linux, all architectures).
    private const int EPERM = 1;
    private const int ENOENT = 2;
    private const int EINTR = 4;
    private const int EEXIST = 17;
    private const int EISDIR = 21;
    private const int EINVAL = 22;
    private const int ERANGE = 34;
    private const int ENODATA = 61;
    private const int ENOTSUP = 95; // == EOPNOTSUPP on Linux
    private const int ENXIO = 6;

    // open(2) flags (x86_64; O_LARGEFILE is implied on 64-bit).
    private const int O_RDONLY = 0;
    private const int O_WRONLY = 1;
    private const int O_CREAT = 0x40;
    private const int O_EXCL = 0x80;
    private const int O_NONBLOCK = 0x800;
    private const int O_DIRECTORY = 0x10000;
    private const int O_NOFOLLOW = 0x20000;
    private const int O_NOATIME = 0x40000;
    private const int O_CLOEXEC = 0x80000;
    private const int O_TMPFILE = 0x410000; // __O_TMPFILE | O_DIRECTORY
    private const int O_PATH = 0x200000;
    private const int O_DIRECT = 0x4000;

    private const int F_GETFL = 3;
    private const int F_SETFL = 4;

    private const int AT_FDCWD = -100;
    private const int AT_SYMLINK_NOFOLLOW = 0x100;
    private const int AT_SYMLINK_FOLLOW = 0x400;
    private const int AT_EMPTY_PATH = 0x1000;
    private const uint STATX_BASIC_STATS = 0x7ff;

    private const int SEEK_DATA = 3;
    private const int SEEK_HOLE = 4;

    private const uint S_IFMT = 0xF000;   // 0170000
    private const uint S_IFSOCK = 0xC000; // 0140000
    private const uint S_IFLNK = 0xA000;  // 0120000
    private const uint S_IFREG = 0x8000;  // 0100000
    private const uint S_IFBLK = 0x6000;  // 0060000
    private const uint S_IFDIR = 0x4000;  // 0040000
    private const uint S_IFCHR = 0x2000;  // 0020000
    private const uint S_IFIFO = 0x1000;  // 0010000

    /// <summary>struct statx_timestamp: 16 bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct StatxTimestamp
    {
        public long Sec;
        public uint Nsec;
        public int Reserved;
    }

    /// <summary>struct statx from linux/stat.h: 256 bytes, the same layout on every architecture.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 256)]
    private struct Statx
    {
        public uint Mask;            // 0
        public uint BlkSize;         // 4
        public ulong Attributes;     // 8
        public uint NLink;           // 16
        public uint Uid;             // 20
        public uint Gid;             // 24
        public ushort Mode;          // 28
        public ushort Spare0;        // 30
        public ulong Ino;            // 32
        public ulong Size;           // 40
        public ulong Blocks;         // 48
        public ulong AttributesMask; // 56
        public StatxTimestamp ATime; // 64
        public StatxTimestamp BTime; // 80
        public StatxTimestamp CTime; // 96
        public StatxTimestamp MTime; // 112
        public uint RDevMajor;       // 128
        public uint RDevMinor;       // 132
        public uint DevMajor;        // 136
        public uint DevMinor;        // 140
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Sec;
        public long Nsec;
    }

    /// <summary>struct passwd (x86_64).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Passwd
    {
        public byte* Name;
        public byte* Password;
        public uint Uid;
        public uint Gid;
        public byte* Gecos;
        public byte* Dir;
        public byte* Shell;
    }

    /// <summary>struct group (x86_64).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Group
    {
        public byte* Name;
        public byte* Password;
        public uint Gid;
        public byte** Members;
    }

    // struct dirent64 (x86_64): d_ino u64 @0, d_off i64 @8, d_reclen u16 @16, d_type u8 @18, d_name @19.
    private const int DirentNameOffset = 19;
    private const int DirentNameMax = 256;

    [LibraryImport(Libc, EntryPoint = "statx", SetLastError = true)]
    private static partial int SysStatx(int dirfd, byte* path, int flags, uint mask, Statx* buf);

    [LibraryImport(Libc, EntryPoint = "statx", SetLastError = true)]
    private static partial int SysStatx(SafeFileHandle dirfd, byte* path, int flags, uint mask, Statx* buf);

    // open(2) is variadic; passing the mode as a fixed third argument is ABI compatible on Linux x86_64/arm64.
    [LibraryImport(Libc, EntryPoint = "open", SetLastError = true)]
    private static partial int SysOpen(byte* path, int flags, uint mode);

    [LibraryImport(Libc, EntryPoint = "openat", SetLastError = true)]
    private static partial int SysOpenat(int dirfd, byte* path, int flags, uint mode);

    [LibraryImport(Libc, EntryPoint = "execv", SetLastError = true)]
    private static partial int SysExecv(byte* path, byte** argv);

    [LibraryImport(Libc, EntryPoint = "close", SetLastError = true)]
    private static partial int SysClose(int fd);

    [LibraryImport(Libc, EntryPoint = "fsync", SetLastError = true)]
    private static partial int SysFsync(int fd);

    [LibraryImport(Libc, EntryPoint = "fsync", SetLastError = true)]
    private static partial int SysFsync(SafeFileHandle fd);

    [LibraryImport(Libc, EntryPoint = "ftruncate", SetLastError = true)]
    private static partial int SysFtruncate(SafeFileHandle fd, long length);

    // fcntl(2) is variadic; an int third argument is ABI compatible as with open(2).
    [LibraryImport(Libc, EntryPoint = "fcntl", SetLastError = true)]
    private static partial int SysFcntl(SafeFileHandle fd, int cmd, int arg);

    [LibraryImport(Libc, EntryPoint = "pwrite", SetLastError = true)]
    private static partial nint SysPwrite(SafeFileHandle fd, byte* buf, nuint count, long offset);

    [LibraryImport(Libc, EntryPoint = "lseek", SetLastError = true)]
    private static partial long SysLseek(SafeFileHandle fd, long offset, int whence);

    [LibraryImport(Libc, EntryPoint = "opendir", SetLastError = true)]
    private static partial nint SysOpendir(byte* path);

    [LibraryImport(Libc, EntryPoint = "readdir64", SetLastError = true)]
    private static partial byte* SysReaddir(nint dir);

    [LibraryImport(Libc, EntryPoint = "closedir", SetLastError = true)]
    private static partial int SysClosedir(nint dir);

    [LibraryImport(Libc, EntryPoint = "readlink", SetLastError = true)]
    private static partial nint SysReadlink(byte* path, byte* buf, nuint size);

    [LibraryImport(Libc, EntryPoint = "symlink", SetLastError = true)]
    private static partial int SysSymlink(byte* target, byte* linkPath);

    [LibraryImport(Libc, EntryPoint = "mkdir", SetLastError = true)]
    private static partial int SysMkdir(byte* path, uint mode);

    [LibraryImport(Libc, EntryPoint = "link", SetLastError = true)]
    private static partial int SysLink(byte* existing, byte* newPath);

    [LibraryImport(Libc, EntryPoint = "linkat", SetLastError = true)]
    private static partial int SysLinkat(int oldDirFd, byte* oldPath, int newDirFd, byte* newPath, int flags);

    // Exported as mknod since glibc 2.33; older glibc only has __xmknod(_MKNOD_VER, path, mode, &dev).
    [LibraryImport(Libc, EntryPoint = "mknod", SetLastError = true)]
    private static partial int SysMknod(byte* path, uint mode, ulong dev);

    [LibraryImport(Libc, EntryPoint = "__xmknod", SetLastError = true)]
    private static partial int SysXmknod(int version, byte* path, uint mode, ulong* dev);

    [LibraryImport(Libc, EntryPoint = "unlink", SetLastError = true)]
    private static partial int SysUnlink(byte* path);

    [LibraryImport(Libc, EntryPoint = "rmdir", SetLastError = true)]
    private static partial int SysRmdir(byte* path);

    [LibraryImport(Libc, EntryPoint = "rename", SetLastError = true)]
    private static partial int SysRename(byte* from, byte* to);

    [LibraryImport(Libc, EntryPoint = "llistxattr", SetLastError = true)]
    private static partial nint SysLlistxattr(byte* path, byte* list, nuint size);

    [LibraryImport(Libc, EntryPoint = "lgetxattr", SetLastError = true)]
    private static partial nint SysLgetxattr(byte* path, byte* name, byte* value, nuint size);

    [LibraryImport(Libc, EntryPoint = "lsetxattr", SetLastError = true)]
    private static partial int SysLsetxattr(byte* path, byte* name, byte* value, nuint size, int flags);

    [LibraryImport(Libc, EntryPoint = "lchown", SetLastError = true)]
    private static partial int SysLchown(byte* path, uint uid, uint gid);

    [LibraryImport(Libc, EntryPoint = "chmod", SetLastError = true)]
    private static partial int SysChmod(byte* path, uint mode);

    [LibraryImport(Libc, EntryPoint = "utimensat", SetLastError = true)]
    private static partial int SysUtimensat(int dirfd, byte* path, Timespec* times, int flags);

    [LibraryImport(Libc, EntryPoint = "fchown", SetLastError = true)]
    private static partial int SysFchown(SafeFileHandle fd, uint uid, uint gid);

    [LibraryImport(Libc, EntryPoint = "fchmod", SetLastError = true)]
    private static partial int SysFchmod(SafeFileHandle fd, uint mode);

    [LibraryImport(Libc, EntryPoint = "futimens", SetLastError = true)]
    private static partial int SysFutimens(SafeFileHandle fd, Timespec* times);

    [LibraryImport(Libc, EntryPoint = "fsetxattr", SetLastError = true)]
    private static partial int SysFsetxattr(SafeFileHandle fd, byte* name, byte* value, nuint size, int flags);

    [LibraryImport(Libc, EntryPoint = "geteuid")]
    private static partial uint SysGeteuid();

    // The *_r lookups return an errno value instead of setting errno.
    [LibraryImport(Libc, EntryPoint = "getpwuid_r")]
    private static partial int SysGetpwuidR(uint uid, Passwd* pwd, byte* buf, nuint buflen, Passwd** result);

    [LibraryImport(Libc, EntryPoint = "getpwnam_r")]
    private static partial int SysGetpwnamR(byte* name, Passwd* pwd, byte* buf, nuint buflen, Passwd** result);

    [LibraryImport(Libc, EntryPoint = "getgrgid_r")]
    private static partial int SysGetgrgidR(uint gid, Group* grp, byte* buf, nuint buflen, Group** result);

    [LibraryImport(Libc, EntryPoint = "getgrnam_r")]
    private static partial int SysGetgrnamR(byte* name, Group* grp, byte* buf, nuint buflen, Group** result);
}
