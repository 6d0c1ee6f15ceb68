using System.Text;
using Amazon.S3.Model;
using Strata.EndToEnd.Infrastructure;
using Strata.Platform;

namespace Strata.EndToEnd;

/// <summary>
/// strata bucket snapshot --copy against real buckets on radosgw: every object comes back from strata restore byte
/// for byte at /s3/BUCKET/KEY (tricky keys escaped as documented) with its key, ETag and LastModified; a second copy
/// of an unchanged bucket downloads and adds nothing and makes no new version; a change makes one. Versioning is not
/// needed; with it, version ids are recorded. Bad input fails cleanly.
/// </summary>
public sealed class BucketCopyTests : IDisposable
{
    private readonly Sandbox _box = new("bucketcopy");

    public void Dispose() => _box.Dispose();

    private Task<CliResult> Strata(params string[] args) => _box.StrataWith(Radosgw.WithCredentials(_box.Env()), args);

    private async Task<CliResult> CopyAsync(string location)
    {
        var r = await Strata("bucket", "snapshot", "--copy", "--json", location);
        CliAssert.Ok(r);
        return r;
    }

    private static long L(CliResult r, string field) => r.Summary.GetProperty(field).GetInt64();

    /// <summary>Keys whose path differs from the key, with the path the README promises.</summary>
    private static readonly Dictionary<string, string> Tricky = new()
    {
        ["a//b"] = "a/%/b",
        ["./dot.txt"] = "%2E/dot.txt",
        ["up/../x"] = "up/%2E%2E/x",
        ["100%.txt"] = "100%25.txt",
        ["photos/"] = "photos/%",
        ["key"] = "key%",
        ["key/child"] = "key/child",
    };

    private static string PathOf(string key) => Tricky.GetValueOrDefault(key, key);

    [SkippableFact]
    public async Task Copy_restores_every_object_byte_for_byte_and_an_unchanged_bucket_adds_nothing()
    {
        Radosgw.Require();
        await using var s3 = new Radosgw("copy");
        await s3.CreateBucketAsync(); // versioning stays off: a copy does not need it
        var rnd = new Random(7);
        var puts = new List<(string Key, byte[] Data)>();
        for (int i = 0; i < 180; i++)
        {
            puts.Add(($"photos/{2023 + (i % 2)}/{1 + (i % 12):D2}/img_{i:D3}.jpg", Sandbox.RandomBytes(rnd.Next(1, 20_000), seed: i)));
        }
        puts.Add(("docs/readme.txt", Encoding.UTF8.GetBytes("read me\n")));
        puts.Add(("docs/notes/todo.md", Encoding.UTF8.GetBytes("- copy the bucket\n")));
        puts.Add(("ünï cødé/€ 日本語.txt", Encoding.UTF8.GetBytes("unicode key\n")));
        puts.Add(("empty", []));
        puts.Add(("big/video.bin", Sandbox.RandomBytes(6_000_000, seed: 99)));
        foreach (string k in Tricky.Keys)
        {
            puts.Add((k, Encoding.UTF8.GetBytes($"content of {k}\n")));
        }
        await Parallel.ForEachAsync(puts, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (p, _) => await s3.PutAsync(p.Key, p.Data));
        var state1 = await s3.ContentAsync();
        Assert.Equal(puts.Count, state1.Count);
        await _box.InitAsync();

        var first = await CopyAsync(s3.Location);
        Assert.Equal(puts.Count, L(first, "files_new"));
        Assert.Equal(puts.Count, L(first, "objects"));
        Assert.Equal(1, L(first, "version"));
        Assert.Equal($"/s3/{s3.Bucket}", first.Summary.GetProperty("path").GetString());
        Assert.Equal(state1.Values.Sum(v => (long)v.Length), L(first, "bytes_read"));
        string v1 = first.Summary.GetProperty("snapshot_id").GetString()!;
        await AssertRestoredAsync(v1, s3, state1, "r1");

        // Unchanged: nothing downloaded, nothing added, no new version.
        var second = await CopyAsync(s3.Location);
        Assert.Equal(puts.Count, L(second, "files_unmodified"));
        Assert.Equal(0, L(second, "bytes_read"));
        Assert.Equal(0, L(second, "data_added"));
        Assert.Equal(1, L(second, "unchanged_since"));

        // One object changed, one added, one deleted: a new version that adds about the new bytes only.
        byte[] changed = Sandbox.RandomBytes(15_000, seed: 1234);
        await s3.PutAsync("photos/2023/01/img_000.jpg", changed);
        await s3.PutAsync("docs/new.txt", "added later\n");
        await s3.DeleteAsync("docs/readme.txt");
        var state2 = await s3.ContentAsync();
        var third = await CopyAsync(s3.Location);
        Assert.Equal(1, L(third, "files_changed"));
        Assert.Equal(1, L(third, "files_new"));
        Assert.Equal(state2.Count - 2, L(third, "files_unmodified"));
        Assert.Equal(2, L(third, "version"));
        Assert.Equal(changed.Length + 12, L(third, "bytes_read"));
        Assert.InRange(L(third, "data_added"), 1, changed.Length + 12);
        await AssertRestoredAsync(third.Summary.GetProperty("snapshot_id").GetString()!, s3, state2, "r2");

        // The first version is still there as it was.
        await AssertRestoredAsync(v1, s3, state1, "r1-again", checkTimes: false);
        var snapshots = await Strata("snapshots", "--json");
        CliAssert.Ok(snapshots);
        Assert.Contains($"/s3/{s3.Bucket}", snapshots.Stdout);
    }

    [SkippableFact]
    public async Task A_folder_of_a_versioned_bucket_records_version_ids_and_only_its_keys()
    {
        Radosgw.Require();
        await using var s3 = new Radosgw("copyver");
        await s3.CreateBucketAsync();
        await s3.EnableVersioningAsync();
        await s3.PutAsync("photos/a.jpg", "old a\n");
        string aVersion = await s3.PutAsync("photos/a.jpg", "new a\n");
        string bVersion = await s3.PutAsync("photos/sub/b.jpg", Sandbox.RandomBytes(2_500_000, seed: 3));
        await s3.PutAsync("other/c.txt", "not in the folder\n");
        await _box.InitAsync();

        var r = await CopyAsync(s3.Location + "/photos");
        Assert.Equal(2, L(r, "files_new"));
        Assert.Equal($"/s3/{s3.Bucket}/photos", r.Summary.GetProperty("path").GetString());
        string target = _box.NewTarget("r");
        CliAssert.Ok(await Strata("restore", "latest", "--target", target));
        string root = $"{target}/s3/{s3.Bucket}";
        Assert.Equal(["photos"], Directory.GetFileSystemEntries(root).Select(Path.GetFileName));
        Assert.Equal("new a\n", File.ReadAllText($"{root}/photos/a.jpg"));
        Assert.Equal(Sandbox.RandomBytes(2_500_000, seed: 3), File.ReadAllBytes($"{root}/photos/sub/b.jpg"));
        Assert.Equal(aVersion, Xattr($"{root}/photos/a.jpg", "user.s3.version_id"));
        Assert.Equal(bVersion, Xattr($"{root}/photos/sub/b.jpg", "user.s3.version_id"));
        Assert.Equal("photos/sub/b.jpg", Xattr($"{root}/photos/sub/b.jpg", "user.s3.key"));

        // Without --copy the same folder needs no data: a restoration point; both live side by side.
        CliAssert.Ok(await Strata("bucket", "snapshot", s3.Location + "/photos"));

        // The snapshot records where it came from, and strata copy keeps its series: a copy of the same bucket folder
        // into the other repository continues it (unchanged since v1) instead of starting over.
        var listed = await Strata("snapshots", "--json");
        CliAssert.Ok(listed);
        Assert.Contains("\"kind\":\"s3\"", listed.Stdout);
        Assert.Contains($"\"location\":\"{s3.Location}/photos\"", listed.Stdout);
        string other = Path.Combine(_box.Root, "other-repo");
        var env = Radosgw.WithCredentials(_box.Env());
        env["STRATA_TO_PASSWORD"] = Sandbox.Password;
        CliAssert.Ok(await Cli.RunAsync(["--repo", other, "init"], env));
        CliAssert.Ok(await Cli.RunAsync(["copy", "--from", _box.Repo, "--to", other], env));
        var there = await Cli.RunAsync(["--repo", other, "bucket", "snapshot", "--copy", "--json", s3.Location + "/photos"], env);
        CliAssert.Ok(there);
        Assert.Equal(1, L(there, "unchanged_since"));
        Assert.Equal(0, L(there, "bytes_read"));
    }

    [SkippableFact]
    public async Task Bad_input_fails_cleanly_and_records_nothing()
    {
        Radosgw.Require();
        await using var s3 = new Radosgw("copybad");
        await s3.CreateBucketAsync();
        await s3.PutAsync("a.txt", "a\n");
        await _box.InitAsync();

        CliAssert.FailsCleanly(1, await Strata("bucket", "snapshot", "--copy", $"s3:{Radosgw.Endpoint}/strata-no-such-bucket-{Guid.NewGuid():N}"[..60]), "does not exist");
        var env = Radosgw.WithCredentials(_box.Env());
        env["AWS_SECRET_ACCESS_KEY"] = "not-the-secret";
        CliAssert.FailsCleanly(1, await _box.StrataWith(env, "bucket", "snapshot", "--copy", s3.Location), "access denied", s3.Bucket, "AWS_SECRET_ACCESS_KEY");
        CliAssert.FailsCleanly(2, await Strata("bucket", "snapshot", "--copy", "/tmp/not-a-bucket"), "not an S3 bucket");
        CliAssert.FailsCleanly(2, await Strata("bucket", "snapshot", "--copy", "--time", "2020-01-01T00:00:00Z", s3.Location), "--time");
        // Without --copy an unversioned bucket is refused, and the message offers the copy that works.
        CliAssert.FailsCleanly(2, await Strata("bucket", "snapshot", s3.Location), "versioning is not enabled", $"strata bucket snapshot --copy {s3.Location}");
        var none = await Strata("snapshots", "--json");
        CliAssert.Ok(none);
        Assert.Equal("[]", none.Stdout.Trim());

        // The message's suggestion works.
        CliAssert.Ok(await Strata("bucket", "snapshot", "--copy", s3.Location));
    }

    private async Task AssertRestoredAsync(string snapshot, Radosgw s3, SortedDictionary<string, byte[]> content, string name, bool checkTimes = true)
    {
        string target = _box.NewTarget(name);
        var r = await Strata("restore", snapshot, "--target", target);
        CliAssert.Ok(r);
        string root = $"{target}/s3/{s3.Bucket}";
        var listing = new Dictionary<string, S3Object>(StringComparer.Ordinal);
        string? token = null;
        do
        {
            var page = await s3.Client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = s3.Bucket, ContinuationToken = token });
            foreach (S3Object o in page.S3Objects ?? [])
            {
                listing[o.Key] = o;
            }
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (token is not null);

        var files = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Select(f => f[(root.Length + 1)..]).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(content.Keys.Select(PathOf).Order(StringComparer.Ordinal).ToList(), files);
        foreach (var (key, data) in content)
        {
            string path = $"{root}/{PathOf(key)}";
            Assert.True(data.AsSpan().SequenceEqual(File.ReadAllBytes(path)), $"the content of {key} differs");
            Assert.Equal(key, Xattr(path, "user.s3.key"));
            if (checkTimes)
            {
                Assert.Equal(listing[key].ETag!.Trim('"'), Xattr(path, "user.s3.etag"));
                DateTime modified = listing[key].LastModified!.Value.ToUniversalTime();
                Assert.Equal((modified - DateTime.UnixEpoch).Ticks * 100, Posix.LStat(Posix.ToBytes(path)).MTimeNs);
            }
        }
    }

    private static string? Xattr(string path, string name)
    {
        var x = Posix.ListXattrs(Posix.ToBytes(path)).FirstOrDefault(a => Encoding.UTF8.GetString(a.Name) == name);
        return x.Name is null ? null : Encoding.UTF8.GetString(x.Value);
    }
}
