using System.Runtime.CompilerServices;
using System.Text;
using Strata.Archiver;
using Strata.Crypto;
using Strata.Platform;
using Strata.Snapshots;
using Strata.Sources.Buckets;
using Strata.Stores;
using Strata.Tests.Restorer;

namespace Strata.Tests.Buckets;

/// <summary>
/// The archiver's walk of a bucket (strata bucket snapshot --copy) in a real local repository, fed by an in-memory
/// bucket: a fake, for what a real server cannot do on demand (an object vanishing between listing and read, a
/// listing out of order). S3 itself is exercised against radosgw in the EndToEnd tests.
/// </summary>
public sealed class BucketCopySourceTests
{
    private sealed class MemoryBucket : IBucketReader
    {
        public SortedDictionary<string, byte[]> Objects { get; } = new(KeyOrder.Instance);
        public HashSet<string> Vanished { get; } = [];
        public List<string>? Order { get; set; }
        public List<string> Opened { get; } = [];
        public DateTimeOffset Time { get; set; } = new(2026, 1, 2, 3, 4, 5, 678, TimeSpan.Zero);

        public string Location => "s3:http://memory/b";
        public string Bucket => "b";
        public string Prefix => "";

        private string ETag(string key) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Objects[key]))[..32];

        public async IAsyncEnumerable<BucketObject> ListAsync([EnumeratorCancellation] CancellationToken ct)
        {
            foreach (string k in Order ?? [.. Objects.Keys])
            {
                yield return new BucketObject(k, Objects[k].Length, ETag(k), Time, "STANDARD");
            }
            await Task.CompletedTask;
        }

        public Task<BucketObjectRead> OpenAsync(BucketObject obj, CancellationToken ct)
        {
            lock (Opened)
            {
                Opened.Add(obj.Key);
            }
            if (Vanished.Contains(obj.Key))
            {
                throw new PermanentStoreException($"'{obj.Key}' was deleted from {Location} after it was listed");
            }
            return Task.FromResult(new BucketObjectRead(new MemoryStream(Objects[obj.Key], writable: false), ETag(obj.Key), Time, "v-" + obj.Key, "text/plain", []));
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private static async Task<Snapshot> CopyAsync(TestRepository t, MemoryBucket bucket)
    {
        var options = new BackupOptions { Paths = [], Tree = new BucketCopySource(bucket), Workers = 2 };
        var archiver = new Strata.Archiver.Archiver(t.Repo, options, new BackupProgress(), new ParentTrees(t.Repo, t.Cache));
        return (await archiver.RunAsync(t.Ct)).Snapshot;
    }

    private static async Task<Dictionary<string, Node>> FilesAsync(TestRepository t, Snapshot s)
    {
        var files = new Dictionary<string, Node>(StringComparer.Ordinal);
        await TreeOps.WalkAsync(t.Repo, BlobId.Parse(s.Tree), "", (path, node) =>
        {
            if (node.Kind == FileKind.Regular)
            {
                files[path] = node;
            }
            return Task.FromResult(true);
        }, t.Ct);
        return files;
    }

    private static string X(Node n, string name) => Encoding.UTF8.GetString(n.Xattrs.Single(x => Encoding.UTF8.GetString(x.Name) == name).Value);

    [Fact]
    public async Task A_file_beside_a_folder_is_renamed_and_found_again_by_the_next_copy()
    {
        await using var t = await TestRepository.CreateAsync(null);
        var bucket = new MemoryBucket();
        bucket.Objects["key"] = "the object key\n"u8.ToArray();
        bucket.Objects["key!"] = "sorts between\n"u8.ToArray();
        bucket.Objects["key/child"] = "inside\n"u8.ToArray();
        bucket.Objects["key/"] = "folder marker\n"u8.ToArray();

        Snapshot v1 = await CopyAsync(t, bucket);
        var files = await FilesAsync(t, v1);
        Assert.Equal(["/s3/b/key!", "/s3/b/key%", "/s3/b/key/%", "/s3/b/key/child"], files.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("key", X(files["/s3/b/key%"], BucketCopySource.KeyXattr));
        Assert.Equal("key/", X(files["/s3/b/key/%"], BucketCopySource.KeyXattr));
        Assert.Equal("v-key", X(files["/s3/b/key%"], BucketCopySource.VersionXattr));
        Assert.Equal(BucketCopySource.Nanoseconds(bucket.Time), files["/s3/b/key%"].MTimeNs);
        Assert.Equal(4, bucket.Opened.Count);

        bucket.Opened.Clear();
        Snapshot again = await CopyAsync(t, bucket);
        Assert.Empty(bucket.Opened);
        Assert.Equal(1, again.UnchangedSince);
        Assert.Equal(4, again.Stats.FilesUnchanged);
    }

    [Fact]
    public async Task An_object_gone_before_its_read_is_skipped_and_the_rest_is_stored()
    {
        await using var t = await TestRepository.CreateAsync(null);
        var bucket = new MemoryBucket();
        for (int i = 0; i < 30; i++)
        {
            bucket.Objects[$"d{i % 3}/o{i:D2}"] = TestRepository.RandomBytes(1000 + i, seed: i);
        }
        bucket.Vanished.Add("d1/o04");

        Snapshot s = await CopyAsync(t, bucket);
        Assert.True(s.Partial);
        SkippedEntry skipped = Assert.Single(s.Skipped);
        Assert.Equal("/s3/b/d1/o04", skipped.Path);
        Assert.Contains("deleted from s3:http://memory/b after it was listed", skipped.Error);
        var files = await FilesAsync(t, s);
        Assert.Equal(29, files.Count);
        Assert.DoesNotContain("/s3/b/d1/o04", files.Keys);
        Assert.Equal(29, s.Stats.FilesNew);

        // The next copy reads the missing object once it is back, and only it.
        bucket.Vanished.Clear();
        bucket.Opened.Clear();
        Snapshot next = await CopyAsync(t, bucket);
        Assert.False(next.Partial);
        Assert.Equal(["d1/o04"], bucket.Opened);
        Assert.Equal(30, (await FilesAsync(t, next)).Count);
    }

    [Fact]
    public async Task A_listing_out_of_order_fails_the_copy()
    {
        await using var t = await TestRepository.CreateAsync(null);
        var bucket = new MemoryBucket();
        bucket.Objects["a/x"] = "1"u8.ToArray();
        bucket.Objects["b"] = "2"u8.ToArray();
        bucket.Objects["a/y"] = "3"u8.ToArray();
        bucket.Order = ["a/x", "b", "a/y"];
        var e = await Assert.ThrowsAsync<PermanentStoreException>(() => CopyAsync(t, bucket));
        Assert.Contains("lists 'a/y' after 'b'", e.Message);
        Assert.Empty(await t.Repo.ListSnapshotsAsync(t.Ct));
    }
}
