using Strata.Crypto;
using Strata.Maintenance;
using Strata.Repository;
using Strata.Sources.Buckets;
using Strata.Stores;
using Strata.Tests.Restorer;

namespace Strata.Tests.Buckets;

/// <summary>
/// points/ objects in a real local repository: a large point spans many frames and reads back in order, key
/// ordering is by UTF-8 bytes, a writer key lists points but cannot read their keys, and damage is named.
/// The selection of points by gc (retention, min-keep per source) is tested here with explicit times.
/// </summary>
public sealed class BucketPointCodecTests
{
    private static BucketPointHeader Header(DateTimeOffset t, string location = "s3:http://127.0.0.1:7480/b") =>
        new() { Time = t, Location = location, Bucket = "b" };

    private static async IAsyncEnumerable<BucketEntry> Entries(int n)
    {
        for (int i = 0; i < n; i++)
        {
            yield return new BucketEntry($"photos/2024/{i / 1000:D3}/IMG_{i:D7}.jpg", $"v{i * 7919:x}", i, $"\"{i:x32}\"");
        }
        await Task.CompletedTask;
    }

    [Fact]
    public async Task A_large_point_spans_many_frames_and_reads_back_in_order()
    {
        await using var t = await TestRepository.CreateAsync(null);
        var point = await BucketPoints.WriteAsync(t.Repo, Header(t.Clock.GetUtcNow()), Entries(60_000), t.Ct);
        Assert.Equal(60_000, point.Header.Keys);
        Assert.Equal(60_000L * 59_999 / 2, point.Header.Bytes);
        Assert.True(point.Header.Frames > 3, $"{point.Header.Frames} frames");
        // front coding + zstd: far below the ~70 bytes of each entry's raw fields
        Assert.True(point.Length < 60_000 * 25, $"{point.Length} bytes");

        int i = 0;
        await foreach (BucketEntry e in BucketPoints.ReadEntriesAsync(t.Repo, point, t.Ct))
        {
            Assert.Equal($"photos/2024/{i / 1000:D3}/IMG_{i:D7}.jpg", e.Key);
            Assert.Equal($"v{i * 7919:x}", e.VersionId);
            Assert.Equal(i, e.Size);
            i++;
        }
        Assert.Equal(60_000, i);

        var listed = Assert.Single(await BucketPoints.ListAsync(t.Repo, t.Ct));
        Assert.Equal(point.Id, listed.Id);
    }

    [Fact]
    public async Task An_empty_bucket_gives_an_empty_point()
    {
        await using var t = await TestRepository.CreateAsync(null);
        var point = await BucketPoints.WriteAsync(t.Repo, Header(t.Clock.GetUtcNow()), Entries(0), t.Ct);
        Assert.Equal(0, point.Header.Keys);
        await foreach (BucketEntry _ in BucketPoints.ReadEntriesAsync(t.Repo, point, t.Ct))
        {
            Assert.Fail("no entries expected");
        }
    }

    [Fact]
    public async Task A_writer_key_lists_points_but_cannot_read_their_keys()
    {
        await using var t = await TestRepository.CreateAsync(null);
        var point = await BucketPoints.WriteAsync(t.Repo, Header(t.Clock.GetUtcNow()), Entries(10), t.Ct);
        MasterKeys writer = t.Repo.Keys.WriterOnly();
        Assert.Equal(point.Header.Keys, Assert.Single(await BucketPoints.ListAsync(t.Repo, t.Ct)).Header.Keys);
        await Assert.ThrowsAsync<WriterKeyException>(async () =>
        {
            await foreach (BucketEntry _ in BucketPointCodec.ReadEntriesAsync(t.Repo.Store, point.Name, point.FramesEnd, writer, t.Ct))
            {
            }
        });
    }

    [Fact]
    public async Task A_truncated_or_damaged_point_is_named()
    {
        await using var t = await TestRepository.CreateAsync(null);
        var point = await BucketPoints.WriteAsync(t.Repo, Header(t.Clock.GetUtcNow()), Entries(30_000), t.Ct);
        string file = Path.Combine(t.RepoDir, "points", point.Id);
        byte[] bytes = await File.ReadAllBytesAsync(file, t.Ct);
        // Flip one byte inside the second frame: the entries no longer open, and the message names the object.
        bytes[BucketPointCodec.FrameTarget / 4 + 200] ^= 0x40;
        File.SetAttributes(file, FileAttributes.Normal);
        await File.WriteAllBytesAsync(file, bytes, t.Ct);
        var e = await Assert.ThrowsAsync<CorruptionException>(async () =>
        {
            await foreach (BucketEntry _ in BucketPoints.ReadEntriesAsync(t.Repo, point, t.Ct))
            {
            }
        });
        Assert.Contains($"points/{point.Id}", e.Message);

        // A header that does not open: listed as damaged, not thrown.
        bytes[^20] ^= 0x01;
        await File.WriteAllBytesAsync(file, bytes, t.Ct);
        var damaged = new List<string>();
        Assert.Empty(await BucketPoints.ListAsync(t.Repo, t.Ct, damaged));
        Assert.Contains(point.Id, Assert.Single(damaged));
    }

    [Fact]
    public async Task Check_opens_every_point_header_and_with_read_data_every_frame()
    {
        await using var t = await TestRepository.CreateAsync(null);
        var point = await BucketPoints.WriteAsync(t.Repo, Header(t.Clock.GetUtcNow()), Entries(30_000), t.Ct);
        await BucketPoints.WriteAsync(t.Repo, Header(t.Clock.GetUtcNow().AddHours(1)), Entries(5), t.Ct);
        foreach (bool readData in new[] { false, true })
        {
            CheckResult clean = await new Checker(t.Repo).RunAsync(readData, null, t.Ct);
            Assert.True(clean.Ok, string.Join("; ", clean.Findings.Select(f => f.Problem)));
            Assert.Equal(2, clean.Points);
        }

        // A flipped byte inside a frame: the header still opens, so only --read-data sees it, and names the point.
        string file = Path.Combine(t.RepoDir, "points", point.Id);
        byte[] bytes = await File.ReadAllBytesAsync(file, t.Ct);
        bytes[BucketPointCodec.FrameTarget / 4 + 200] ^= 0x40;
        File.SetAttributes(file, FileAttributes.Normal);
        await File.WriteAllBytesAsync(file, bytes, t.Ct);
        Assert.True((await new Checker(t.Repo).RunAsync(readData: false, null, t.Ct)).Ok);
        CheckResult read = await new Checker(t.Repo).RunAsync(readData: true, null, t.Ct);
        CheckFinding f = Assert.Single(read.Findings);
        Assert.Equal($"points/{point.Id}", f.Object);
        Assert.Contains("fails authentication", f.Problem);
        Assert.Contains($"strata bucket forget {point.Id[..12]}", f.Advice);

        // A header that does not open is found without --read-data.
        bytes[^20] ^= 0x01;
        await File.WriteAllBytesAsync(file, bytes, t.Ct);
        CheckResult plain = await new Checker(t.Repo).RunAsync(readData: false, null, t.Ct);
        f = Assert.Single(plain.Findings);
        Assert.Equal($"points/{point.Id}", f.Object);
        Assert.Contains("header", f.Problem);
        Assert.Equal(2, plain.Points);
    }

    [Fact]
    public async Task Check_with_read_data_finds_frames_that_do_not_open_under_a_matching_name()
    {
        await using var t = await TestRepository.CreateAsync(null);
        var point = await BucketPoints.WriteAsync(t.Repo, Header(t.Clock.GetUtcNow()), Entries(30_000), t.Ct);
        // Damage a frame and store the bytes under their own SHA-256, as a damaged upload re-hashed by someone would be:
        // the name matches, the header opens, and only opening the frames finds it.
        byte[] bytes = await File.ReadAllBytesAsync(Path.Combine(t.RepoDir, "points", point.Id), t.Ct);
        bytes[BucketPointCodec.FrameTarget / 4 + 200] ^= 0x40;
        string id = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
        await t.Repo.Store.WriteAsync(new ObjectName(ObjectKind.Points, id), new MemoryStream(bytes), t.Ct);
        await BucketPoints.DeleteAsync(t.Repo, point, t.Ct);

        CheckResult r = await new Checker(t.Repo).RunAsync(readData: true, null, t.Ct);
        CheckFinding f = Assert.Single(r.Findings);
        Assert.Equal($"points/{id}", f.Object);
        Assert.DoesNotContain("SHA-256", f.Problem);
    }

    [Fact]
    public async Task Check_with_read_data_finds_a_whole_point_stored_under_another_name()
    {
        await using var t = await TestRepository.CreateAsync(null);
        var point = await BucketPoints.WriteAsync(t.Repo, Header(t.Clock.GetUtcNow()), Entries(30_000), t.Ct);
        // Every frame and the header open, but the bytes are not the ones its name says: only the SHA-256 tells.
        byte[] bytes = await File.ReadAllBytesAsync(Path.Combine(t.RepoDir, "points", point.Id), t.Ct);
        string other = new string('0', 63) + "1";
        await t.Repo.Store.WriteAsync(new ObjectName(ObjectKind.Points, other), new MemoryStream(bytes), t.Ct);

        Assert.True((await new Checker(t.Repo).RunAsync(readData: false, null, t.Ct)).Ok);
        CheckResult r = await new Checker(t.Repo).RunAsync(readData: true, null, t.Ct);
        CheckFinding f = Assert.Single(r.Findings);
        Assert.Equal($"points/{other}", f.Object);
        Assert.Contains("SHA-256", f.Problem);
        Assert.Equal(2, r.Points);
    }

    [Fact]
    public void Keys_sort_by_utf8_bytes_like_S3()
    {
        // U+FF5E (3 UTF-8 bytes, EF BD 9E) sorts before U+1F600 (4 bytes, F0 9F 98 80), although its UTF-16 unit is larger.
        string bmp = "a\uFF5E";
        string astral = "a\U0001F600";
        Assert.True(string.CompareOrdinal(bmp, astral) > 0);
        Assert.True(KeyOrder.Instance.Compare(bmp, astral) < 0);
        Assert.True(KeyOrder.Instance.Compare("a", "a/") < 0);
        Assert.Equal(0, KeyOrder.Instance.Compare(astral, "a\U0001F600"));
    }

    [Fact]
    public void Gc_selects_points_by_age_and_never_below_min_keep_per_source()
    {
        var now = new DateTimeOffset(2026, 11, 22, 0, 0, 0, TimeSpan.Zero);
        BucketPointRef P(string id, int daysAgo, string loc) => new(id.PadRight(64, '0'), 100, 50, Header(now.AddDays(-daysAgo), loc));
        var points = new[]
        {
            P("a1", 100, "s3:h/a"), P("a2", 60, "s3:h/a"), P("a3", 40, "s3:h/a"), P("a4", 5, "s3:h/a"),
            P("b1", 100, "s3:h/b"), P("b2", 90, "s3:h/b"),
        };
        var (keep, remove) = BucketGc.SelectPoints(points, TimeSpan.FromDays(30), minKeep: 2, now);
        // b has only two points: min-keep 2 keeps both, however old.
        Assert.Equal(["a1", "a2"], remove.Select(p => p.Id[..2]).Order().ToArray());
        Assert.Equal(["a3", "a4", "b1", "b2"], keep.Select(p => p.Id[..2]).Order().ToArray());

        (keep, remove) = BucketGc.SelectPoints(points, TimeSpan.FromDays(30), minKeep: 0, now);
        Assert.Equal(["a4"], keep.Select(p => p.Id[..2]).ToArray());
        (keep, remove) = BucketGc.SelectPoints(points, TimeSpan.FromDays(30), minKeep: 1, now);
        Assert.Equal(["a4", "b2"], keep.Select(p => p.Id[..2]).Order().ToArray());
        Assert.Equal(4, remove.Count);
        (keep, _) = BucketGc.SelectPoints(points, TimeSpan.FromDays(365), minKeep: 1, now);
        Assert.Equal(6, keep.Count);
    }
}
