using System.Runtime.CompilerServices;
using System.Text;
using Strata.Archiver;
using Strata.Snapshots;
using Strata.Stores;

namespace Strata.Sources.Buckets;

/// <summary>
/// A bucket's current objects as a tree for the archiver (strata bucket snapshot --copy): each object is a file at
/// /s3/BUCKET/KEY (names escaped by <see cref="BucketKeyPath"/>), modified at its LastModified, with xattrs
/// user.s3.key (the exact key), user.s3.etag (without quotes) and, from the read, user.s3.version_id (versioned
/// buckets), user.s3.content_type and user.s3.meta.NAME (user metadata). An object whose size, LastModified and
/// ETag match the previous copy is not downloaded again.
/// </summary>
public sealed class BucketCopySource : ITreeSource
{
    public const string KeyXattr = "user.s3.key";
    public const string ETagXattr = "user.s3.etag";
    public const string VersionXattr = "user.s3.version_id";
    public const string ContentTypeXattr = "user.s3.content_type";
    public const string MetaXattrPrefix = "user.s3.meta.";

    private readonly IBucketReader _bucket;

    public BucketCopySource(IBucketReader bucket)
    {
        _bucket = bucket;
        string folder = bucket.Prefix.Length == 0 ? "" : "/" + string.Join('/', BucketKeyPath.Names(bucket.Prefix.TrimEnd('/'), ""));
        Root = "/s3/" + BucketKeyPath.Escape(bucket.Bucket) + folder;
    }

    public string Root { get; }

    public SourceInfo Info => new() { Kind = "s3", FileName = Root.TrimStart('/'), Location = _bucket.Location };

    /// <summary>Objects listed (so far): for the summary.</summary>
    public long Objects { get; private set; }

    public async IAsyncEnumerable<TreeSourceFile> ListAsync([EnumeratorCancellation] CancellationToken ct)
    {
        string? last = null;
        await foreach (BucketObject o in _bucket.ListAsync(ct).ConfigureAwait(false))
        {
            // Folders are made while the listing passes through them: a key out of order would put a folder twice.
            if (last is not null && KeyOrder.Instance.Compare(o.Key, last) <= 0)
            {
                throw new PermanentStoreException($"{_bucket.Location} lists '{o.Key}' after '{last}': the listing is out of order or repeats a key");
            }
            last = o.Key;
            Objects++;
            List<byte[]> path = BucketKeyPath.Names(o.Key, _bucket.Prefix).Select(Encoding.UTF8.GetBytes).ToList();
            yield return new TreeSourceFile(path, o.Size, Nanoseconds(o.LastModified), Identity(o.Key, o.ETag), o);
        }
    }

    public async Task<TreeSourceRead> OpenAsync(TreeSourceFile file, CancellationToken ct)
    {
        var listed = (BucketObject)file.Handle;
        BucketObjectRead read = await _bucket.OpenAsync(listed, ct).ConfigureAwait(false);
        var xattrs = Identity(listed.Key, read.ETag);
        if (read.VersionId is { Length: > 0 } v && v != "null")
        {
            xattrs.Add(X(VersionXattr, v));
        }
        if (read.ContentType is { Length: > 0 } type)
        {
            xattrs.Add(X(ContentTypeXattr, type));
        }
        foreach (var (name, value) in read.Metadata)
        {
            xattrs.Add(X(MetaXattrPrefix + name, value));
        }
        // The listing's time has milliseconds, a read's Last-Modified header only seconds: keep the listing's unless
        // the object was replaced in between (then the next copy reads it again, which is right).
        long mtime = read.ETag == listed.ETag ? file.MTimeNs : Nanoseconds(read.LastModified);
        return new TreeSourceRead(read.Data, mtime, xattrs);
    }

    public byte[] FileBesideFolder(byte[] name) => Encoding.UTF8.GetBytes(BucketKeyPath.BesideFolder(Encoding.UTF8.GetString(name)));

    private static List<Xattr> Identity(string key, string etag) => [X(KeyXattr, key), X(ETagXattr, etag)];

    private static Xattr X(string name, string value) => new(Encoding.UTF8.GetBytes(name), Encoding.UTF8.GetBytes(value));

    public static long Nanoseconds(DateTimeOffset t) => (t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100;
}
