using Microsoft.Extensions.Time.Testing;
using Strata.Stores;

namespace Strata.Conformance;

/// <summary>
/// The local store with its simulated cold tier, on a fake clock: the whole conformance suite (cold objects thawed
/// before each read) plus the Deep Archive behaviour itself. A fake, because the AWS cold tier cannot run here.
/// </summary>
public sealed class LocalColdSimulationTests : LocalStoreConformanceTests
{
    private static readonly ColdSimulation Simulation = new(DelaySeconds: 48 * 3600, DaySeconds: 86400);
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 22, 12, 0, 0, TimeSpan.Zero));

    protected override Task<IStore> CreateStoreAsync()
    {
        var store = new LocalStore(Root, _clock);
        store.EnableColdSimulation(Simulation);
        return Task.FromResult<IStore>(store);
    }

    protected override async Task MakeReadableAsync(IStore store, ObjectName name)
    {
        if ((await store.GetThawStatusAsync(name, Ct)).CanRead)
        {
            return;
        }
        await store.RequestThawAsync(name, new ThawRequest(ThawTier.Expedited, 1), Ct);
        _clock.Advance(Simulation.DelayFor(ThawTier.Expedited) + TimeSpan.FromSeconds(1));
        Assert.Equal(ThawState.Thawed, (await store.GetThawStatusAsync(name, Ct)).State);
    }

    [Fact]
    public async Task Properties_SayTheColdTierIsSimulated()
    {
        IStore store = await StoreAsync();
        Assert.True(store.Properties.HasColdTier);
        Assert.True(store.Properties.SimulatedCold);
        Assert.False(store.Properties.ColdReadsDirectly);
        // The simulation survives reopening the folder.
        var reopened = new LocalStore(Root, _clock);
        Assert.True(reopened.Properties.SimulatedCold);
    }

    [Fact]
    public async Task DataObject_IsFrozenUntilThawed_ThenReadable_ThenFrozenAgainAfterItsDays()
    {
        IStore store = await StoreAsync();
        ObjectName name = RandomName(ObjectKind.Data);
        byte[] content = RandomBytes(4000, 21);
        await WriteAsync(store, name, content);
        Assert.Equal(4000, (await store.StatAsync(name, Ct))?.Length);

        // Before any thaw: frozen, and a read says which object, where, and in which class.
        Assert.Equal(ThawState.Frozen, (await store.GetThawStatusAsync(name, Ct)).State);
        var frozen = await Assert.ThrowsAsync<ObjectFrozenException>(() => store.ReadAsync(name, 0, new byte[10], Ct));
        Assert.Equal(name, frozen.Name);
        Assert.Equal(ThawState.Frozen, frozen.Status.State);
        Assert.Contains(name.Path, frozen.Message, StringComparison.Ordinal);
        Assert.Contains("local-cold", frozen.Message, StringComparison.Ordinal);

        // Bulk: the configured delay (48 h); the copy lasts 2 days after that.
        DateTimeOffset requested = _clock.GetUtcNow();
        await store.RequestThawAsync(name, new ThawRequest(ThawTier.Bulk, 2), Ct);
        ThawStatus thawing = await store.GetThawStatusAsync(name, Ct);
        Assert.Equal(ThawState.Thawing, thawing.State);
        Assert.Equal(requested + TimeSpan.FromHours(48), thawing.ReadyAt);
        Assert.Equal(requested + TimeSpan.FromHours(48) + TimeSpan.FromDays(2), thawing.ExpiresAt);

        _clock.Advance(TimeSpan.FromHours(47));
        Assert.Equal(ThawState.Thawing, (await store.GetThawStatusAsync(name, Ct)).State);
        var stillThawing = await Assert.ThrowsAsync<ObjectFrozenException>(() => store.ReadAsync(name, 0, new byte[10], Ct));
        Assert.Equal(ThawState.Thawing, stillThawing.Status.State);
        Assert.Contains("still thawing", stillThawing.Message, StringComparison.Ordinal);

        // Asking again while it thaws is a success and does not restart the clock.
        await store.RequestThawAsync(name, new ThawRequest(ThawTier.Bulk, 2), Ct);
        Assert.Equal(thawing.ReadyAt, (await store.GetThawStatusAsync(name, Ct)).ReadyAt);

        _clock.Advance(TimeSpan.FromHours(1) + TimeSpan.FromSeconds(1));
        ThawStatus thawed = await store.GetThawStatusAsync(name, Ct);
        Assert.Equal(ThawState.Thawed, thawed.State);
        Assert.True(thawed.CanRead);
        byte[] got = new byte[content.Length];
        await store.ReadAsync(name, 0, got, Ct);
        Assert.Equal(content, got);

        _clock.Advance(TimeSpan.FromDays(2));
        Assert.Equal(ThawState.Frozen, (await store.GetThawStatusAsync(name, Ct)).State);
        await Assert.ThrowsAsync<ObjectFrozenException>(() => store.ReadAsync(name, 0, new byte[10], Ct));
    }

    [Fact]
    public async Task ExpeditedThaw_IsFasterThanBulk()
    {
        IStore store = await StoreAsync();
        ObjectName name = RandomName(ObjectKind.Data);
        await WriteAsync(store, name, [1, 2, 3]);
        DateTimeOffset now = _clock.GetUtcNow();
        await store.RequestThawAsync(name, new ThawRequest(ThawTier.Expedited, 1), Ct);
        Assert.Equal(now + Simulation.DelayFor(ThawTier.Expedited), (await store.GetThawStatusAsync(name, Ct)).ReadyAt);
        Assert.True(Simulation.DelayFor(ThawTier.Expedited) < Simulation.DelayFor(ThawTier.Standard));
        Assert.True(Simulation.DelayFor(ThawTier.Standard) < Simulation.DelayFor(ThawTier.Bulk));
    }

    [Fact]
    public async Task WarmObjects_AreReadableWithoutAThaw()
    {
        IStore store = await StoreAsync();
        ObjectName name = RandomName(ObjectKind.Catalogs);
        await WriteAsync(store, name, [1, 2, 3]);
        byte[] got = new byte[3];
        await store.ReadAsync(name, 0, got, Ct);
        Assert.Equal(new byte[] { 1, 2, 3 }, got);
    }

    [Fact]
    public async Task ThawStatus_OfAMissingDataObjectIsNotFound()
    {
        IStore store = await StoreAsync();
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => store.GetThawStatusAsync(RandomName(ObjectKind.Data), Ct));
    }
}
