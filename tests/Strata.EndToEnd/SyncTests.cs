using System.Text;
using Amazon.S3.Model;
using Strata.EndToEnd.Infrastructure;
using Strata.Platform;

namespace Strata.EndToEnd;

/// <summary>
/// strata sync into a local folder and into a bucket on radosgw: the target holds the source's files under their
/// own names, byte for byte; changed files are uploaded again, unchanged ones are not; files deleted locally are
/// found under .strata-trash/&lt;time&gt;/ with their content; bad sources and unwritable targets fail cleanly.
/// </summary>
public sealed class SyncTests : IDisposable
{
    private readonly Sandbox _box = new("sync");

    public void Dispose() => _box.Dispose();

    private Task<CliResult> Sync(params string[] args) => Cli.RunAsync(["sync", "--json", .. args], Radosgw.WithCredentials(_box.Env()));

    private static (long Uploaded, long Unchanged, long Trashed) Counts(CliResult r) =>
        (r.Summary.GetProperty("uploaded").GetInt64(), r.Summary.GetProperty("unchanged").GetInt64(), r.Summary.GetProperty("trashed").GetInt64());

    [Fact]
    public async Task Backup_with_policy_sync_mirrors_into_to_without_a_repository()
    {
        WriteInitialTree();
        string target = Path.Combine(_box.Root, "mirror");
        var env = _box.Env(password: null); // no repository and no passphrase are involved
        CliResult first = await Cli.RunAsync(["backup", "--json", "--policy", "sync", "--to", target, _box.Source], env);
        CliAssert.Ok(first);
        Assert.Equal(6, first.Summary.GetProperty("uploaded").GetInt64());
        Assert.Equal(File.ReadAllBytes(Path.Combine(_box.Source, "docs/report.pdf")), File.ReadAllBytes(Path.Combine(target, "docs/report.pdf")));
        Assert.False(Directory.Exists(_box.Repo), "sync must not create a repository");

        File.Delete(Path.Combine(_box.Source, "a.txt"));
        CliResult second = await Cli.RunAsync(["backup", "--json", "--policy", "sync", "--to", target, _box.Source], env);
        CliAssert.Ok(second);
        Assert.Equal(1, second.Summary.GetProperty("trashed").GetInt64());
        Assert.False(File.Exists(Path.Combine(target, "a.txt")));
        Assert.Single(Directory.EnumerateFiles(Path.Combine(target, ".strata-trash"), "a.txt", SearchOption.AllDirectories));

        CliAssert.FailsCleanly(2, await Cli.RunAsync(["backup", "--policy", "sync", _box.Source], env), "--to");
        CliAssert.FailsCleanly(2, await Cli.RunAsync(["backup", "--policy", "sync", "--to", target, _box.Source, _box.Root], env), "exactly one folder");
    }

    private void WriteInitialTree()
    {
        _box.Write("a.txt", "alpha\n");
        _box.Write("docs/report.pdf", Sandbox.RandomBytes(1_500_000, seed: 3));
        _box.Write("docs/old/notes.md", "# notes\n");
        _box.Write("names/ünï cødé €.txt", "unicode\n");
        _box.Write("names/with\ttab", "tab\n");
        _box.Write("empty", "");
    }

    /// <summary>Modify one file, delete two (one in a folder that becomes empty), add one; same size and mtime change for another.</summary>
    private void ChangeTree()
    {
        _box.Write("a.txt", "alpha, second version\n");
        File.Delete(Path.Combine(_box.Source, "docs/old/notes.md"));
        Directory.Delete(Path.Combine(_box.Source, "docs/old"));
        File.Delete(Path.Combine(_box.Source, "empty"));
        _box.Write("new/added.bin", Sandbox.RandomBytes(70_000, seed: 4));
        // Only the mtime changes: hashed, found equal, not uploaded.
        File.SetLastWriteTimeUtc(Path.Combine(_box.Source, "names/with\ttab"), DateTime.UtcNow.AddHours(-3));
    }

    private SortedDictionary<string, byte[]> SourceFiles() => ReadTree(_box.Source);

    private static SortedDictionary<string, byte[]> ReadTree(string root, string? only = null)
    {
        var d = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (string f in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            string rel = Path.GetRelativePath(root, f);
            bool reserved = rel.StartsWith(".strata-trash/", StringComparison.Ordinal) || rel.StartsWith(".strata-sync/", StringComparison.Ordinal);
            if (only is null ? !reserved : rel.StartsWith(only, StringComparison.Ordinal))
            {
                d[only is null ? rel : rel[only.Length..]] = File.ReadAllBytes(f);
            }
        }
        return d;
    }

    [Fact]
    public async Task Sync_to_a_local_folder_mirrors_the_tree_and_moves_deletions_to_the_trash()
    {
        WriteInitialTree();
        string target = Path.Combine(_box.Root, "mirror");
        var first = await Sync(_box.Source, target);
        CliAssert.Ok(first);
        Assert.Equal((6L, 0L, 0L), Counts(first));
        Radosgw.AssertSameContent(SourceFiles(), ReadTree(target));

        var again = await Sync(_box.Source, target);
        CliAssert.Ok(again);
        Assert.Equal((0L, 6L, 0L), Counts(again));

        var before = SourceFiles();
        ChangeTree();
        var dry = await Sync(_box.Source, target, "--dry-run");
        CliAssert.Ok(dry);
        Assert.Equal((2L, 3L, 2L), Counts(dry));
        Radosgw.AssertSameContent(before, ReadTree(target));

        var third = await Sync(_box.Source, target);
        CliAssert.Ok(third);
        Assert.Equal((2L, 3L, 2L), Counts(third));
        Radosgw.AssertSameContent(SourceFiles(), ReadTree(target));
        Assert.False(Directory.Exists(Path.Combine(target, "docs/old")), "a folder emptied by the trash moves is removed");

        string trash = third.Summary.GetProperty("trash_folder").GetString()!;
        Assert.StartsWith(".strata-trash/20", trash);
        var trashed = ReadTree(target, trash + "/");
        Assert.Equal(["docs/old/notes.md", "empty"], trashed.Keys.ToArray());
        Assert.Equal("# notes\n", Encoding.UTF8.GetString(trashed["docs/old/notes.md"]));
        Assert.Empty(trashed["empty"]);

        // A lost manifest: everything is uploaded again, nothing is trashed wrongly, the mirror stays exact.
        File.Delete(Path.Combine(target, ".strata-sync/manifest"));
        var rebuilt = await Sync(_box.Source, target);
        CliAssert.Ok(rebuilt);
        Assert.True(rebuilt.Summary.GetProperty("manifest_was_missing").GetBoolean());
        Assert.Equal(0, rebuilt.Summary.GetProperty("trashed").GetInt64());
        Radosgw.AssertSameContent(SourceFiles(), ReadTree(target));
    }

    [Fact]
    public async Task Sync_refuses_a_missing_source_and_an_unwritable_target()
    {
        CliAssert.FailsCleanly(2, await Sync(Path.Combine(_box.Root, "nope"), Path.Combine(_box.Root, "t")), "sync source", "does not exist");
        _box.Write("a.txt", "alpha\n");
        CliAssert.FailsCleanly(2, await Sync(Path.Combine(_box.Source, "a.txt"), Path.Combine(_box.Root, "t")), "is a file, not a folder");

        // A target folder that 'nobody' cannot write to.
        string locked = Path.Combine(_box.Root, "locked");
        Directory.CreateDirectory(locked);
        Posix.Chmod(Posix.ToBytes(locked), Sandbox.Octal("755"));
        var r = await Cli.RunAsync(["sync", _box.Source, locked], _box.Env(), runAs: "nobody");
        CliAssert.FailsCleanly(2, r, "sync target", locked, "not writable");
        Assert.Empty(Directory.EnumerateFileSystemEntries(locked));

        // A file where the target folder should be.
        CliAssert.FailsCleanly(2, await Sync(_box.Source, Path.Combine(_box.Source, "a.txt")), "is a file, not a folder");
    }

    [SkippableFact]
    public async Task Sync_to_S3_keeps_plain_objects_under_their_names_and_the_trash_in_the_bucket()
    {
        Radosgw.Require();
        await using var s3 = new Radosgw("sync");
        await s3.CreateBucketAsync();
        WriteInitialTree();
        string target = s3.Location + "/mirror";

        var first = await Sync(_box.Source, target);
        CliAssert.Ok(first);
        Assert.Equal((6L, 0L, 0L), Counts(first));
        Radosgw.AssertSameContent(SourceFiles(), Strip(await s3.ContentAsync("mirror/"), "mirror/", skipReserved: true));

        var again = await Sync(_box.Source, target);
        Assert.Equal((0L, 6L, 0L), Counts(again));

        ChangeTree();
        var third = await Sync(_box.Source, target);
        CliAssert.Ok(third);
        Assert.Equal((2L, 3L, 2L), Counts(third));
        var all = await s3.ContentAsync("mirror/");
        Radosgw.AssertSameContent(SourceFiles(), Strip(all, "mirror/", skipReserved: true));
        string trash = third.Summary.GetProperty("trash_folder").GetString()!;
        var trashed = Strip(all, $"mirror/{trash}/", skipReserved: false);
        Assert.Equal(["docs/old/notes.md", "empty"], trashed.Keys.ToArray());
        Assert.Equal("# notes\n", Encoding.UTF8.GetString(trashed["docs/old/notes.md"]));

        // The objects are plain: another S3 client reads a file as it is on disk.
        using GetObjectResponse pdf = await s3.Client.GetObjectAsync(s3.Bucket, "mirror/docs/report.pdf");
        Assert.Equal(1_500_000, pdf.ContentLength);

        // A bucket that does not exist, and wrong credentials: clear messages, exit 1.
        var missing = await Sync(_box.Source, s3.Location + "-nope/x");
        CliAssert.FailsCleanly(1, missing, "does not exist");
        var env = Radosgw.WithCredentials(_box.Env());
        env["AWS_SECRET_ACCESS_KEY"] = "wrong";
        CliAssert.FailsCleanly(1, await Cli.RunAsync(["sync", _box.Source, target], env), "access denied");
    }

    private static SortedDictionary<string, byte[]> Strip(SortedDictionary<string, byte[]> objects, string prefix, bool skipReserved)
    {
        var d = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var (k, v) in objects)
        {
            if (!k.StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }
            string rel = k[prefix.Length..];
            if (skipReserved && (rel.StartsWith(".strata-trash/", StringComparison.Ordinal) || rel.StartsWith(".strata-sync/", StringComparison.Ordinal)))
            {
                continue;
            }
            d[rel] = v;
        }
        return d;
    }
}
