using Strata.Snapshots;

namespace Strata.Archiver;

/// <summary>
/// A tree that is not on the local file system (a bucket's objects), fed to the archiver as one listing of files in
/// which each folder's files are contiguous. The archiver makes the folders from the files' paths (mode 0755, owned
/// by the running user, modified at their newest file's time), reuses the parent snapshot's content for a file whose
/// size, time and listed xattrs are unchanged, and opens the other files ahead of its workers, which chunk them like
/// files read from disk. File-system backups do not go through this.
/// </summary>
public interface ITreeSource
{
    /// <summary>The absolute path the files are placed under (e.g. /s3/BUCKET/folder): the snapshot's one path.</summary>
    string Root { get; }

    /// <summary>
    /// What the snapshot records as its source. Its kind and <see cref="SourceInfo.Location"/> (required) name the
    /// version series: the same on every run, never the same as a file-system path's.
    /// </summary>
    SourceInfo Info { get; }

    /// <summary>
    /// Every file once. The files under any folder come one after another, so a folder is complete when the
    /// listing leaves it; a listing that breaks this (a folder seen again later) fails the backup.
    /// </summary>
    IAsyncEnumerable<TreeSourceFile> ListAsync(CancellationToken ct);

    /// <summary>
    /// Starts reading a file. Called in listing order while earlier files are still being chunked (at most a dozen
    /// are open at once). Errors are per file (<see cref="Stores.StoreException"/> or <see cref="IOException"/>):
    /// the file is listed as skipped and the snapshot is partial.
    /// </summary>
    Task<TreeSourceRead> OpenAsync(TreeSourceFile file, CancellationToken ct);

    /// <summary>The name a file takes when a folder of the same name is in the same place (in a bucket: keys "a" and "a/b").</summary>
    byte[] FileBesideFolder(byte[] name);
}

/// <summary>One file of a <see cref="ITreeSource"/> listing.</summary>
/// <param name="Path">Its names below <see cref="ITreeSource.Root"/>: folders, then the file's own name.</param>
/// <param name="Xattrs">What identifies this content (for a bucket: key and ETag); equal xattrs, size and time mean unchanged.</param>
/// <param name="Handle">The source's own reference to the file (for a bucket, the listed object).</param>
public sealed record TreeSourceFile(IReadOnlyList<byte[]> Path, long Size, long MTimeNs, IReadOnlyList<Xattr> Xattrs, object Handle);

/// <summary>A file being read: its bytes, and the metadata the read found (which may differ from the listing's when the file changed in between).</summary>
public sealed class TreeSourceRead(Stream data, long mtimeNs, IReadOnlyList<Xattr> xattrs) : IAsyncDisposable
{
    public Stream Data { get; } = data;

    public long MTimeNs { get; } = mtimeNs;

    /// <summary>The file's xattrs: the listing's identity plus whatever the read adds (for a bucket: version id, content type, user metadata).</summary>
    public IReadOnlyList<Xattr> Xattrs { get; } = xattrs;

    public ValueTask DisposeAsync() => Data.DisposeAsync();
}
