namespace Strata.Sync;

/// <summary>A file the target holds, as its listing shows it.</summary>
public sealed record SyncTargetFile(string Path, long Size);

/// <summary>
/// Where <c>strata sync</c> mirrors a tree: plain files under their own relative names ("a/b.txt", '/' separators),
/// unlike the content-addressed <see cref="Strata.Stores.IStore"/>. A target owns two reserved names at its root:
/// <see cref="ManifestPath"/> and the <see cref="TrashFolder"/>; listings leave both out.
/// Every member may throw the store exceptions, or IOException / UnauthorizedAccessException for a local folder.
/// </summary>
public interface ISyncTarget : IAsyncDisposable
{
    public const string ManifestPath = ".strata-sync/manifest";
    public const string TrashFolder = ".strata-trash";

    /// <summary>For messages: the folder, or s3:http://host:port/bucket/prefix.</summary>
    string Location { get; }

    /// <summary>Checks that the target exists and can be written (creates a local folder), with a message naming it if not.</summary>
    Task PrepareAsync(CancellationToken ct);

    /// <summary>The manifest's bytes, or null when there is none.</summary>
    Task<byte[]?> ReadManifestAsync(CancellationToken ct);

    /// <summary>Replaces the manifest (whole: a reader never sees half of it).</summary>
    Task WriteManifestAsync(byte[] content, CancellationToken ct);

    /// <summary>Every file except the manifest and the trash.</summary>
    IAsyncEnumerable<SyncTargetFile> ListAsync(CancellationToken ct);

    /// <summary>Writes the local file to <paramref name="path"/>, replacing what is there; a reader never sees half a file.</summary>
    Task PutFileAsync(string path, string localFile, long size, DateTimeOffset modified, CancellationToken ct);

    /// <summary>Moves a file to another name (into the trash). A file already gone is a success.</summary>
    Task MoveAsync(string from, string to, long size, CancellationToken ct);
}
