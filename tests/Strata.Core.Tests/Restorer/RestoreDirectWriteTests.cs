using System.Diagnostics;
using Strata.Platform;
using Strata.Repository;
using Strata.Restorer;

namespace Strata.Tests.Restorer;

/// <summary>
/// Files of 64 KiB and more are restored past the page cache (O_DIRECT, whole 4 KiB blocks; the partial last block
/// through the cache). Every size around the block, threshold and 1 MiB buffer edges must come back byte for byte
/// either way, and a direct restore must really leave the file out of the page cache. The repository is under /var/tmp,
/// a disk-backed folder on Debian, so the probe finds direct I/O there.
/// </summary>
public sealed class RestoreDirectWriteTests : IAsyncLifetime
{
    private static readonly int[] Sizes =
    [
        0, 1, 4095, 4096, 4097, 65535, 65536, 65537, 69632 /* 17 blocks */, (1 << 20) - 1, 1 << 20, (1 << 20) + 4097,
        (3 << 20) + 12345, (5 << 20) + 4096,
    ];

    private TestRepository _t = null!;
    private SnapshotRef _snap = null!;
    private readonly List<string> _files = [];

    public async Task InitializeAsync()
    {
        _t = await TestRepository.CreateAsync(simulation: null);
        for (int i = 0; i < Sizes.Length; i++)
        {
            string path = _t.Write($"d/size-{Sizes[i]}.bin", TestRepository.RandomBytes(Sizes[i], 100 + i));
            long ns = (1_600_000_000L + i) * 1_000_000_000L + 123_456_789L;
            Posix.SetTimes(Posix.ToBytes(path), ns, ns);
            _files.Add(path);
        }
        _snap = await _t.BackupAsync();
        await _t.ReopenAsync();
    }

    public async Task DisposeAsync() => await _t.DisposeAsync();

    private async Task<string> RestoreAsync(bool direct)
    {
        string target = Path.Combine(_t.Root, "target-" + Guid.NewGuid().ToString("N")[..8]);
        RestoreResult result = await new Strata.Restorer.Restorer(_t.Repo, new RestoreOptions { Target = target, DirectWrites = direct }).RunAsync(_snap.Snapshot, _t.Ct);
        Assert.Empty(result.Failures);
        Assert.Equal(_files.Count, result.Files);
        Assert.Equal(Sizes.Sum(s => (long)s), result.Bytes);
        return target;
    }

    [Fact]
    public void The_test_folder_takes_direct_writes() => Assert.True(DirectWriter.Probe(Posix.ToBytes(_t.Root)));

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Every_size_comes_back_byte_for_byte_with_its_time(bool direct)
    {
        string target = await RestoreAsync(direct);

        foreach (string file in _files)
        {
            string got = _t.Restored(target, file);
            Assert.Equal(new FileInfo(file).Length, new FileInfo(got).Length);
            Assert.True(File.ReadAllBytes(file).AsSpan().SequenceEqual(File.ReadAllBytes(got)), $"{got} differs from {file}");
            Assert.True(Posix.TryLStat(Posix.ToBytes(got), out FileStat have, out _));
            Assert.True(Posix.TryLStat(Posix.ToBytes(file), out FileStat want, out _));
            Assert.Equal(want.MTimeNs, have.MTimeNs);
            Assert.Equal(want.Mode & 0xFFF, have.Mode & 0xFFF);
        }
    }

    [Fact]
    public async Task A_direct_restore_leaves_large_files_out_of_the_page_cache_and_a_buffered_one_does_not()
    {
        string direct = await RestoreAsync(direct: true);
        string buffered = await RestoreAsync(direct: false);
        string big = _files[Array.IndexOf(Sizes, (3 << 20) + 12345)];

        // Only the partial last block went through the cache; every whole block went straight to the disk.
        Assert.True(CachedBytes(_t.Restored(direct, big)) <= 4096, $"direct: {CachedBytes(_t.Restored(direct, big))} bytes cached");
        Assert.True(CachedBytes(_t.Restored(buffered, big)) >= 3 << 20, $"buffered: {CachedBytes(_t.Restored(buffered, big))} bytes cached");
    }

    /// <summary>Bytes of a file in the page cache, from util-linux's fincore (mincore(2) over a mapping of the file).</summary>
    private static long CachedBytes(string path)
    {
        var psi = new ProcessStartInfo("fincore", ["--bytes", "--noheadings", "--output", "RES", path]) { RedirectStandardOutput = true };
        using Process p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return long.Parse(output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
