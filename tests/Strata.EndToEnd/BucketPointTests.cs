using System.Text;
using Strata.EndToEnd.Infrastructure;

namespace Strata.EndToEnd;

/// <summary>
/// strata bucket snapshot / points / restore / gc against a real versioned bucket on radosgw: restoring puts the
/// bucket's content back byte for byte, dry runs count right, gc removes only versions nothing else needs, a version
/// deleted behind a point's back is reported per key, and an unversioned bucket is refused with how to fix it.
/// </summary>
public sealed class BucketPointTests : IDisposable
{
    private readonly Sandbox _box = new("bucket");

    public void Dispose() => _box.Dispose();

    private Dictionary<string, string?> Env() => Radosgw.WithCredentials(_box.Env());

    private Task<CliResult> Strata(params string[] args) => _box.StrataWith(Env(), args);

    private async Task<string> SnapshotAsync(string location, params string[] extra)
    {
        var r = await Strata(["bucket", "snapshot", "--json", location, .. extra]);
        CliAssert.Ok(r);
        return r.Summary.GetProperty("id").GetString()!;
    }

    private static (long Copy, long Delete, long Unchanged, long Failed) Counts(CliResult r)
    {
        var s = r.Summary;
        return (s.GetProperty("copy").GetInt64(), s.GetProperty("delete").GetInt64(), s.GetProperty("unchanged").GetInt64(), s.GetProperty("failed").GetInt64());
    }

    [SkippableFact]
    public async Task Restore_puts_the_bucket_back_byte_for_byte_and_reports_a_version_deleted_behind_its_back()
    {
        Radosgw.Require();
        await using var s3 = new Radosgw("pts");
        await s3.CreateBucketAsync();
        await _box.InitAsync();

        // Unversioned: refused, with how to enable versioning; nothing recorded.
        await s3.PutAsync("early.txt", "before versioning\n");
        var refused = await Strata("bucket", "snapshot", s3.Location);
        CliAssert.FailsCleanly(2, refused, "versioning is not enabled", $"put-bucket-versioning --bucket {s3.Bucket} --versioning-configuration Status=Enabled", "strata bucket enable-versioning");
        var none = await Strata("bucket", "points", "--json");
        CliAssert.Ok(none);
        Assert.Equal("[]", none.Stdout.Trim());

        CliAssert.Ok(await Strata("bucket", "enable-versioning", s3.Location));
        string aV1 = await s3.PutAsync("a.txt", "version one of a\n");
        await s3.PutAsync("dir/b.bin", Sandbox.RandomBytes(300_000, seed: 1));
        await s3.PutAsync("dir/ünï cødé €.txt", "unicode key\n");
        // More than one listing page (radosgw and S3 return at most 1000 keys per page).
        await Parallel.ForEachAsync(Enumerable.Range(0, 1050), new ParallelOptions { MaxDegreeOfParallelism = 16 },
            async (i, _) => await s3.PutAsync($"many/k{i:D4}", $"small object {i}\n"));
        var state1 = await s3.ContentAsync();
        int keys1 = state1.Count;

        string p1 = await SnapshotAsync(s3.Location);

        // Change: modify, delete, add.
        await s3.PutAsync("a.txt", "version two of a\n");
        await s3.DeleteAsync("dir/b.bin");
        await s3.PutAsync("new.txt", "added later\n");
        await s3.PutAsync("many/k0005", "changed\n");
        await s3.DeleteAsync("many/k0007");
        await s3.DeleteAsync("early.txt");
        var state2 = await s3.ContentAsync();
        string p2 = await SnapshotAsync(s3.Location);

        var list = await Strata("bucket", "points", "--json");
        CliAssert.Ok(list);
        Assert.Contains(p1, list.Stdout);
        Assert.Contains(p2, list.Stdout);
        var table = await Strata("bucket", "points");
        CliAssert.Ok(table);
        Assert.Contains($"{keys1}", table.Stdout);
        Assert.Contains("2 restoration points", table.Stdout);

        // Dry run: copy 5 (a, b, k0005, k0007, early), delete 1 (new), the rest unchanged; nothing changes.
        var dry = await Strata("bucket", "restore", p1[..10], "--dry-run", "--json");
        CliAssert.Ok(dry);
        Assert.Equal((5L, 1L, (long)keys1 - 5, 0L), Counts(dry));
        Radosgw.AssertSameContent(state2, await s3.ContentAsync());
        var dryText = await Strata("bucket", "restore", p1[..10], "--dry-run");
        Assert.Contains("copy 5, delete 1, unchanged " + (keys1 - 5), dryText.Stdout);
        Assert.Contains("delete new.txt", dryText.Stdout);

        // Restore to point 1: the content is point 1's, byte for byte; nothing is lost (point 2 still restores).
        var restored = await Strata("bucket", "restore", p1[..10], "--json");
        CliAssert.Ok(restored);
        Assert.Equal((5L, 1L, (long)keys1 - 5, 0L), Counts(restored));
        Radosgw.AssertSameContent(state1, await s3.ContentAsync());
        var again = await Strata("bucket", "restore", p1[..10], "--dry-run", "--json");
        Assert.Equal((0L, 0L, (long)keys1, 0L), Counts(again));

        CliAssert.Ok(await Strata("bucket", "restore", p2[..10]));
        Radosgw.AssertSameContent(state2, await s3.ContentAsync());

        // A recorded version deleted behind the point's back: that key is reported, the others are restored, exit 4.
        await s3.DeleteVersionAsync("a.txt", aV1);
        var partial = await Strata("bucket", "restore", p1[..10], "--json");
        CliAssert.Exit(4, partial);
        CliAssert.NoStackTrace(partial);
        Assert.Contains("a.txt", partial.Stderr);
        Assert.Contains(aV1, partial.Stderr);
        Assert.Equal((4L, 1L, (long)keys1 - 5, 1L), Counts(partial));
        var now = await s3.ContentAsync();
        var expected = new SortedDictionary<string, byte[]>(state1, StringComparer.Ordinal) { ["a.txt"] = state2["a.txt"] };
        Radosgw.AssertSameContent(expected, now);

        // Bad input: an unknown point, a non-S3 location.
        CliAssert.FailsCleanly(2, await Strata("bucket", "restore", "ffffffff"), "no restoration point 'ffffffff'");
        CliAssert.FailsCleanly(2, await Strata("bucket", "snapshot", "/tmp/not-a-bucket"), "not an S3 bucket");
    }

    [SkippableFact]
    public async Task Gc_removes_old_points_and_only_the_versions_no_kept_point_or_current_state_needs()
    {
        Radosgw.Require();
        await using var s3 = new Radosgw("gc");
        await s3.CreateBucketAsync();
        await s3.EnableVersioningAsync();
        await _box.InitAsync();
        string T(int daysAgo) => DateTimeOffset.UtcNow.AddDays(-daysAgo).ToString("O");

        string x1 = await s3.PutAsync("x", "x one\n");     // only point A
        string k1 = await s3.PutAsync("k", "k one\n");     // points A and B
        string y1 = await s3.PutAsync("y", "y stays\n");   // every point, current throughout
        string z1 = await s3.PutAsync("z", "z one\n");     // point A, then deleted (delete marker current)
        string pa = await SnapshotAsync(s3.Location, "--time", T(100));
        string x2 = await s3.PutAsync("x", "x two\n");     // only point B
        await s3.DeleteAsync("z");
        string pb = await SnapshotAsync(s3.Location, "--time", T(50));
        string x3 = await s3.PutAsync("x", "x three\n");   // point C, current
        string k2 = await s3.PutAsync("k", "k two\n");
        string unreferenced = await s3.PutAsync("x", "x four, never in a point\n");
        string x5 = await s3.PutAsync("x", "x five\n");
        string pc = await SnapshotAsync(s3.Location, "--time", T(1));

        // min-keep 3 keeps all three points, whatever their age.
        var keepAll = await Strata("bucket", "gc", "--retention-days", "30", "--min-keep", "3", "--dry-run", "--json");
        CliAssert.Ok(keepAll);
        Assert.Equal(0, keepAll.Summary.GetProperty("points_removed").GetArrayLength());
        Assert.Equal(0, keepAll.Summary.GetProperty("versions_removed").GetInt64());

        // Dry run with min-keep 1: A and B go, and with them x1, x2, k1, z1; nothing is deleted yet.
        var dry = await Strata("bucket", "gc", "--retention-days", "30", "--min-keep", "1", "--dry-run", "--json");
        CliAssert.Ok(dry);
        Assert.Equal(2, dry.Summary.GetProperty("points_removed").GetArrayLength());
        Assert.Equal(4, dry.Summary.GetProperty("versions_removed").GetInt64());
        Assert.Equal(10, (await s3.VersionsAsync()).Count); // x 5, k 2, y 1, z 1 + its delete marker

        // min-keep 2: only A goes; x1 and z1 were only A's; k1 is still B's, y1 is current.
        var gcA = await Strata("bucket", "gc", "--retention-days", "30", "--min-keep", "2", "--json");
        CliAssert.Ok(gcA);
        Assert.Equal(pa, gcA.Summary.GetProperty("points_removed")[0].GetString());
        var versions = (await s3.VersionsAsync()).Select(v => v.VersionId).ToHashSet();
        Assert.DoesNotContain(x1, versions);
        Assert.DoesNotContain(z1, versions);
        foreach (string v in new[] { x2, x3, unreferenced, x5, k1, k2, y1 })
        {
            Assert.Contains(v, versions);
        }
        var points = await Strata("bucket", "points", "--json");
        Assert.DoesNotContain(pa, points.Stdout);
        Assert.Contains(pb, points.Stdout);
        Assert.Contains(pc, points.Stdout);

        // B still restores (its versions were kept).
        CliAssert.Ok(await Strata("bucket", "restore", pb[..12]));
        var content = await s3.ContentAsync();
        Assert.Equal("x two\n", Encoding.UTF8.GetString(content["x"]));
        Assert.Equal("k one\n", Encoding.UTF8.GetString(content["k"]));
        Assert.False(content.ContainsKey("z"));

        // Now B goes too (min-keep 1): x2 and k1 were only B's. C's versions and a version no point ever named stay.
        var gcB = await Strata("bucket", "gc", "--retention-days", "30", "--min-keep", "1");
        CliAssert.Ok(gcB);
        versions = (await s3.VersionsAsync()).Select(v => v.VersionId).ToHashSet();
        Assert.DoesNotContain(x2, versions);
        Assert.DoesNotContain(k1, versions);
        foreach (string v in new[] { x3, unreferenced, x5, k2, y1 })
        {
            Assert.Contains(v, versions);
        }
        CliAssert.Ok(await Strata("bucket", "restore", pc[..12]));
        content = await s3.ContentAsync();
        Assert.Equal("x five\n", Encoding.UTF8.GetString(content["x"]));
        Assert.Equal("k two\n", Encoding.UTF8.GetString(content["k"]));
        Assert.Equal("y stays\n", Encoding.UTF8.GetString(content["y"]));

        // Bad input.
        CliAssert.FailsCleanly(2, await Strata("bucket", "gc", "--retention-days", "-1"), "--retention-days");
    }
    [SkippableFact]
    public async Task Forget_removes_one_point_even_a_damaged_one_and_leaves_the_bucket_and_the_other_points_alone()
    {
        Radosgw.Require();
        await using var s3 = new Radosgw("fgt");
        await s3.CreateBucketAsync();
        await _box.InitAsync();
        CliAssert.Ok(await Strata("bucket", "enable-versioning", s3.Location));
        await s3.PutAsync("a.txt", "one\n");
        string p1 = await SnapshotAsync(s3.Location);
        await s3.PutAsync("a.txt", "two\n");
        string p2 = await SnapshotAsync(s3.Location);
        await s3.PutAsync("a.txt", "three\n");
        string p3 = await SnapshotAsync(s3.Location);
        var versionsBefore = (await s3.VersionsAsync()).Select(v => v.VersionId).ToHashSet();

        // A healthy point: a dry run removes nothing, then it goes; the bucket keeps every version.
        var dry = await Strata("bucket", "forget", p1[..10], "--dry-run");
        CliAssert.Ok(dry);
        Assert.Contains($"would remove point {p1[..8]}", dry.Stdout);
        Assert.Contains(p1, (await Strata("bucket", "points", "--json")).Stdout);
        var forgot = await Strata("bucket", "forget", p1[..10], "--json");
        CliAssert.Ok(forgot);
        Assert.Equal(p1, forgot.Summary.GetProperty("point").GetString());
        Assert.False(forgot.Summary.GetProperty("damaged").GetBoolean());
        string listed = (await Strata("bucket", "points", "--json")).Stdout;
        Assert.DoesNotContain(p1, listed);
        Assert.Contains(p2, listed);
        Assert.Contains(p3, listed);
        Assert.Equal(versionsBefore, (await s3.VersionsAsync()).Select(v => v.VersionId).ToHashSet());

        // A point whose header no longer opens: check names it, points and gc skip it, forget removes it.
        string file = Path.Combine(_box.Repo, "points", p2);
        byte[] bytes = await File.ReadAllBytesAsync(file);
        bytes[^20] ^= 0x01;
        File.SetAttributes(file, FileAttributes.Normal);
        await File.WriteAllBytesAsync(file, bytes);
        var check = await Strata("check");
        Assert.NotEqual(0, check.ExitCode);
        Assert.Contains($"points/{p2}", check.Stdout + check.Stderr);
        var damaged = await Strata("bucket", "forget", p2[..10]);
        CliAssert.Ok(damaged);
        Assert.Contains($"removed damaged point {p2[..8]}", damaged.Stdout);
        CliAssert.Ok(await Strata("check"));
        Assert.Contains(p3, (await Strata("bucket", "points", "--json")).Stdout);
        CliAssert.Ok(await Strata("bucket", "restore", p3[..10]));
        Assert.Equal("three\n", Encoding.UTF8.GetString((await s3.ContentAsync())["a.txt"]));

        // Bad input: nothing removed.
        CliAssert.FailsCleanly(2, await Strata("bucket", "forget", "ffffffff"), "no restoration point 'ffffffff'");
        CliAssert.FailsCleanly(2, await Strata("bucket", "forget", "not-hex"), "is not a restoration point id");
        Assert.Contains(p3, (await Strata("bucket", "points", "--json")).Stdout);
    }
}

