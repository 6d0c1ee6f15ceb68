using System.Text;
using Strata.EndToEnd.Infrastructure;
using Strata.Platform;

namespace Strata.EndToEnd;

/// <summary>A tree with every kind of entry and awkward metadata goes in and comes back out identical.</summary>
public sealed class RoundTripTests : IDisposable
{
    private readonly Sandbox _box = new("roundtrip");

    public void Dispose() => _box.Dispose();

    private static long Ns(int year, int month, int day, long extraNs) =>
        (new DateTimeOffset(year, month, day, 12, 34, 56, TimeSpan.Zero).ToUnixTimeMilliseconds() * 1_000_000L) + extraNs;

    /// <summary>Builds the tree; returns nothing, everything is compared against the live source afterwards.</summary>
    private void BuildEverythingTree()
    {
        string src = _box.Source;
        byte[] S(string rel) => Posix.ToBytes(Path.Combine(src, rel));

        // nested folders with regular files, one spanning many chunks
        _box.Write("docs/readme.txt", "hello, world\n");
        _box.Write("docs/nested/deeper/deepest/note.md", "# deep\n");
        _box.Write("docs/nested/random.bin", Sandbox.RandomBytes(3 * 1024 * 1024 + 17, seed: 1));
        _box.Write("docs/nested/zeros.bin", new byte[1_500_000]);
        _box.Write("empty", []);
        Directory.CreateDirectory(Path.Combine(src, "emptydir"));

        // symlinks: relative, absolute, dangling, and one pointing at a folder
        Posix.Symlink("docs/readme.txt"u8.ToArray(), S("link-relative"));
        Posix.Symlink("/etc/hostname"u8.ToArray(), S("link-absolute"));
        Posix.Symlink("../does/not/exist"u8.ToArray(), S("docs/link-dangling"));
        Posix.Symlink("nested/deeper"u8.ToArray(), S("docs/link-to-dir"));

        // hard links: three names of one inode in different folders, and a separate pair
        _box.Write("data/original.bin", Sandbox.RandomBytes(200_000, seed: 2));
        Posix.HardLink(S("data/original.bin"), S("data/second-name.bin"));
        Posix.HardLink(S("data/original.bin"), S("docs/third-name.bin"));
        _box.Write("data/pair-a", "pair\n");
        Posix.HardLink(S("data/pair-a"), S("data/pair-b"));
        // same contents as pair-a but a different inode: must stay a separate file
        _box.Write("data/pair-lookalike", "pair\n");

        // a FIFO
        Posix.MkNod(S("fifo"), FileKind.Fifo, Sandbox.Octal("640"), 0);

        // xattrs: text and binary values, on files and on folders
        Posix.SetXattr(S("docs/readme.txt"), "user.comment"u8.ToArray(), "written by the e2e test"u8.ToArray());
        Posix.SetXattr(S("docs/readme.txt"), "user.empty"u8.ToArray(), []);
        Posix.SetXattr(S("data/original.bin"), "user.binary"u8.ToArray(), [0x00, 0x01, 0xFF, 0xFE, 0x00]);
        Posix.SetXattr(S("docs"), "user.folder"u8.ToArray(), "a folder attribute"u8.ToArray());
        Posix.SetXattr(S("docs/nested/random.bin"), "trusted.root-only"u8.ToArray(), "set as root"u8.ToArray());

        // names that are not UTF-8: a file, and a folder holding a file
        byte[] badFile = Posix.Join(Posix.ToBytes(src), [.. "bad-"u8, 0xFF, 0xFE, .. ".txt"u8]);
        using (var h = Posix.CreateNew(badFile, Sandbox.Octal("644")))
        {
            RandomAccess.Write(h, "not utf-8 named\n"u8, 0);
        }
        byte[] badDir = Posix.Join(Posix.ToBytes(src), [.. "dir-"u8, 0xC3, 0x28]);
        Posix.Mkdir(badDir, Sandbox.Octal("755"));
        byte[] inner = Posix.Join(badDir, [0x80, .. "inner"u8]);
        using (var h = Posix.CreateNew(inner, Sandbox.Octal("600")))
        {
            RandomAccess.Write(h, Sandbox.RandomBytes(10_000, seed: 3), 0);
        }
        Posix.SetTimes(inner, Ns(2010, 1, 1, 1), Ns(2010, 1, 1, 123_456_789));

        // odd modes (no setuid/setgid on files), a sticky folder, a folder that others may only traverse
        _box.Write("modes/script.sh", "#!/bin/sh\necho hi\n");
        Posix.Chmod(S("modes/script.sh"), Sandbox.Octal("751"));
        _box.Write("modes/read-only", "ro\n");
        Posix.Chmod(S("modes/read-only"), Sandbox.Octal("400"));
        _box.Write("modes/odd", "odd\n");
        Posix.Chmod(S("modes/odd"), Sandbox.Octal("604"));
        _box.Write("modes/nothing", "no permissions at all\n");
        Posix.Chmod(S("modes/nothing"), Sandbox.Octal("000"));
        Directory.CreateDirectory(Path.Combine(src, "modes/sticky"));
        Posix.Chmod(S("modes/sticky"), Sandbox.Octal("1730"));
        Posix.Chmod(S("modes"), Sandbox.Octal("751"));

        // owners that are not root, including ids with no name
        Posix.LChown(S("docs/nested/zeros.bin"), 1234, 5678);
        Posix.LChown(S("modes/odd"), 65534, 65534);
        Posix.LChown(S("docs/link-dangling"), 4321, 8765);

        // mtimes in the past, to the nanosecond, one before 1970; folders last so their times stick
        Posix.SetTimes(S("docs/readme.txt"), Ns(2001, 2, 3, 0), Ns(2001, 2, 3, 987_654_321));
        Posix.SetTimes(S("docs/nested/random.bin"), Ns(1999, 12, 31, 0), Ns(1999, 12, 31, 1));
        Posix.SetTimes(S("empty"), Ns(1965, 6, 15, 0), Ns(1965, 6, 15, 500_000_000));
        Posix.SetTimes(S("link-relative"), Ns(2005, 5, 5, 0), Ns(2005, 5, 5, 555));
        Posix.SetTimes(S("data/original.bin"), Ns(2012, 12, 12, 0), Ns(2012, 12, 12, 121_212_121));
        Posix.SetTimes(S("fifo"), Ns(2015, 3, 4, 0), Ns(2015, 3, 4, 42));
        Posix.SetTimes(badFile, Ns(2018, 8, 8, 0), Ns(2018, 8, 8, 888));
        Posix.SetTimes(S("docs/nested/deeper/deepest"), Ns(2003, 3, 3, 0), Ns(2003, 3, 3, 333));
        Posix.SetTimes(S("docs/nested/deeper"), Ns(2004, 4, 4, 0), Ns(2004, 4, 4, 444));
        Posix.SetTimes(S("emptydir"), Ns(1990, 1, 1, 0), Ns(1990, 1, 1, 1));
        Posix.SetTimes(badDir, Ns(2020, 2, 20, 0), Ns(2020, 2, 20, 202_020));
        Posix.SetTimes(S("modes"), Ns(2011, 11, 11, 0), Ns(2011, 11, 11, 111));
        Posix.SetTimes(Posix.ToBytes(src), Ns(2000, 1, 1, 0), Ns(2000, 1, 1, 7));
    }

    /// <summary>Large files (random.bin, zeros.bin, original.bin) are written past the page cache by default, through it with --page-cache.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Backup_then_restore_reproduces_every_entry_and_all_metadata(bool pageCache)
    {
        BuildEverythingTree();
        await _box.InitAsync();

        CliResult backup = await _box.Strata("backup", _box.Source, "--json");
        CliAssert.Ok(backup);
        var summary = backup.Summary;
        Assert.False(summary.GetProperty("partial").GetBoolean(), backup.ToString());
        Assert.Equal(0, summary.GetProperty("skipped").GetInt32());

        string target = _box.NewTarget("restore");
        CliResult restore = pageCache
            ? await _box.Strata("restore", "latest", "--page-cache", "--target", target)
            : await _box.Strata("restore", "latest", "--target", target);
        CliAssert.Ok(restore);
        CliAssert.NoStackTrace(restore);

        TreeComparer.AssertSame(_box.Source, Sandbox.Restored(target, _box.Source));
    }

    [Fact]
    public async Task Restoring_twice_into_the_same_target_gives_the_same_tree()
    {
        BuildEverythingTree();
        await _box.InitAsync();
        CliAssert.Ok(await _box.Strata("backup", _box.Source));
        string target = _box.NewTarget("restore");
        CliAssert.Ok(await _box.Strata("restore", "latest", "--target", target));
        CliResult again = await _box.Strata("restore", "latest", "--target", target);
        CliAssert.Ok(again);
        TreeComparer.AssertSame(_box.Source, Sandbox.Restored(target, _box.Source));
    }

    [Fact]
    public async Task A_single_file_given_as_the_backup_path_restores_with_its_metadata()
    {
        string file = _box.Write("only.txt", Encoding.UTF8.GetBytes("just one file\n"));
        Posix.Chmod(Posix.ToBytes(file), Sandbox.Octal("640"));
        Posix.SetTimes(Posix.ToBytes(file), Ns(2002, 2, 2, 0), Ns(2002, 2, 2, 222_222_222));
        await _box.InitAsync();
        CliAssert.Ok(await _box.Strata("backup", file));
        string target = _box.NewTarget("restore");
        CliAssert.Ok(await _box.Strata("restore", "latest", "--target", target));
        var diffs = TreeComparer.Compare(file, Sandbox.Restored(target, file), new TreeComparer.Options());
        Assert.True(diffs.Count == 0, string.Join("\n", diffs));
    }
}
