using Strata.Archiver;

namespace Strata.Core.Tests.Archiver;

/// <summary>
/// The admission of files between a backup's walker and its sequencer: many small files may run ahead of the one the
/// sequencer waits for, large ones only up to the byte budget, and nobody overtakes an earlier waiter.
/// </summary>
public sealed class InFlightTests
{
    private static readonly TimeSpan Soon = TimeSpan.FromMilliseconds(200);

    [Fact]
    public async Task Small_files_are_admitted_up_to_the_file_count_then_wait_for_the_sequencer()
    {
        var f = new InFlight(256, 32 << 20);
        for (int i = 0; i < 256; i++)
        {
            Assert.True(f.TakeAsync(f.ChargeFor(4096), CancellationToken.None).IsCompletedSuccessfully, $"file {i}");
        }
        Task next = f.TakeAsync(f.ChargeFor(4096), CancellationToken.None);
        await Task.Delay(Soon);
        Assert.False(next.IsCompleted);
        f.Give(f.ChargeFor(4096));
        await next.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Large_files_are_admitted_up_to_the_byte_budget()
    {
        var f = new InFlight(256, 32 << 20);
        long big = f.ChargeFor(1L << 30);
        Assert.Equal(InFlight.MaxCharge, big);
        for (int i = 0; i < (32 << 20) / InFlight.MaxCharge; i++)
        {
            Assert.True(f.TakeAsync(big, CancellationToken.None).IsCompletedSuccessfully, $"file {i}");
        }
        Task ninth = f.TakeAsync(big, CancellationToken.None);
        await Task.Delay(Soon);
        Assert.False(ninth.IsCompleted);
        f.Give(big);
        await ninth.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_waiting_large_file_is_not_overtaken_by_a_later_small_one()
    {
        var f = new InFlight(256, 8 << 20);
        long big = f.ChargeFor(100 << 20);
        await f.TakeAsync(big, CancellationToken.None);
        await f.TakeAsync(f.ChargeFor(3 << 20), CancellationToken.None);
        Task large = f.TakeAsync(big, CancellationToken.None); // 1 MiB left: waits
        Task small = f.TakeAsync(f.ChargeFor(1000), CancellationToken.None); // would fit, but comes later
        await Task.Delay(Soon);
        Assert.False(large.IsCompleted);
        Assert.False(small.IsCompleted);
        f.Give(big);
        await Task.WhenAll(large, small).WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void A_charge_is_the_size_up_to_the_most_one_file_holds()
    {
        var f = new InFlight(12, 2 << 20);
        Assert.Equal(0, f.ChargeFor(0));
        Assert.Equal(5000, f.ChargeFor(5000));
        Assert.Equal(2 << 20, f.ChargeFor(3 << 20)); // never more than the whole budget, or it could never be admitted
    }

    [Fact]
    public async Task A_cancelled_wait_ends_with_the_backup()
    {
        var f = new InFlight(1, 1 << 20);
        await f.TakeAsync(10, CancellationToken.None);
        using var cts = new CancellationTokenSource();
        Task waiting = f.TakeAsync(10, cts.Token);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
    }
}
