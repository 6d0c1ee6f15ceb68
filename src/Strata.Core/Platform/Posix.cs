using Microsoft.Win32.SafeHandles;

namespace Strata.Platform;

/// <summary>File types as lstat reports them.</summary>
public enum FileKind : byte
{
    Regular = 1,
    Directory = 2,
    Symlink = 3,
    CharDevice = 4,
    BlockDevice = 5,
    Fifo = 6,
    Socket = 7,
}

/// <summary>What lstat/statx says about one path (never follows a final symlink). Times are nanoseconds since the Unix epoch.</summary>
/// <param name="Mode">Permission bits including setuid/setgid/sticky (mode &amp; 07777).</param>
/// <param name="Device">st_dev: the file system the file lives on.</param>
/// <param name="RDev">st_rdev: the device number of a device file.</param>
/// <param name="Blocks">512-byte blocks allocated (a sparse file has fewer than its size suggests).</param>
public readonly record struct FileStat(
    FileKind Kind,
    uint Mode,
    uint Uid,
    uint Gid,
    long Size,
    long MTimeNs,
    long CTimeNs,
    long ATimeNs,
    ulong Inode,
    ulong Device,
    ulong NLink,
    ulong RDev,
    long Blocks);

/// <summary>One directory entry: the raw name bytes (never decoded, so names that are not UTF-8 survive).</summary>
public readonly record struct DirEntry(byte[] Name);

/// <summary>An errno-carrying failure of a POSIX call, with the path (decoded for display) in the message.</summary>
public sealed class PosixException : IOException
{
    public PosixException(int errno, string operation, string path)
        : base($"{operation} {path}: {Posix.StrError(errno)}") => Errno = errno;

    public int Errno { get; }

    public bool IsNotFound => Errno == 2;          // ENOENT
    public bool IsPermissionDenied => Errno is 13 or 1; // EACCES, EPERM
}

/// <summary>
/// Thin P/Invoke layer over Linux libc for what .NET does not expose: byte-exact paths, lstat with inode
/// and ctime, xattrs, owners, device nodes, sparse files, hard links, fsync of directories.
/// Paths are byte arrays without a terminating NUL; the methods add it. Every failure throws
/// <see cref="PosixException"/> naming the call and the path.
/// </summary>
public static partial class Posix
{
    // Implemented in Posix.Impl.cs.
}
