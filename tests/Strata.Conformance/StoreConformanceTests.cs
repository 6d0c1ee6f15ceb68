using Strata.Stores;

namespace Strata.Conformance;

/// <summary>
/// What every store must do (the model is restic's internal/backend/test/suite.go). A subclass only says how to open
/// a fresh, empty store, how to make a cold object readable, and how to plant a file the repository did not write.
/// Tests that a server cannot run (it is down, and STRATA_SKIP_S3=1 says that is expected) are skipped, not passed.
/// </summary>
public abstract class StoreConformanceTests : IAsyncLifetime
{
    protected const int MiB = 1024 * 1024;

    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(90));
    private IStore? _store;

    /// <summary>Opens a fresh store that holds nothing. May call <see cref="Skip"/>.</summary>
    protected abstract Task<IStore> CreateStoreAsync();

    /// <summary>Puts a file at <paramref name="path"/> (relative to the repository) behind the store's back.</summary>
    protected abstract Task PlantForeignObjectAsync(string path, byte[] content);

    /// <summary>How many objects the listing test writes; S3 raises it past one page (1,000 keys).</summary>
    protected virtual int ManyObjects => 40;

    /// <summary>Big enough for a multipart upload in S3 (16 MiB parts).</summary>
    protected virtual int LargeObjectBytes => 40 * MiB;

    protected CancellationToken Ct => _timeout.Token;

    protected async Task<IStore> StoreAsync() => _store ??= await CreateStoreAsync();

    /// <summary>Makes a cold object readable: by default asks for a thaw once and expects it to be readable then.</summary>
    protected virtual async Task MakeReadableAsync(IStore store, ObjectName name)
    {
        if ((await store.GetThawStatusAsync(name, Ct)).CanRead)
        {
            return;
        }
        await store.RequestThawAsync(name, new ThawRequest(ThawTier.Expedited, 1), Ct);
        ThawStatus status = await store.GetThawStatusAsync(name, Ct);
        Assert.True(status.CanRead, $"{name} is {status.State} after a thaw request; override MakeReadableAsync for this store");
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        if (_store is not null)
        {
            await _store.DisposeAsync();
        }
        _timeout.Dispose();
    }

    // ---------------------------------------------------------------- helpers

    protected static ObjectName RandomName(ObjectKind kind) =>
        kind == ObjectKind.Config ? ObjectName.Config : new ObjectName(kind, Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()) + "00ff");

    protected static byte[] RandomBytes(int length, int seed)
    {
        byte[] b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    protected async Task WriteAsync(IStore store, ObjectName name, byte[] content)
    {
        using var ms = new MemoryStream(content, writable: false);
        await store.WriteAsync(name, ms, Ct);
    }

    protected async Task<byte[]> ReadAllAsync(IStore store, ObjectName name, long offset, int length)
    {
        if (name.Tier == Tier.Cold)
        {
            await MakeReadableAsync(store, name);
        }
        byte[] buffer = new byte[length];
        await store.ReadAsync(name, offset, buffer, Ct);
        return buffer;
    }

    protected async Task<List<ObjectInfo>> ListAllAsync(IStore store, ObjectKind kind)
    {
        var all = new List<ObjectInfo>();
        await foreach (ObjectInfo o in store.ListAsync(kind, Ct))
        {
            all.Add(o);
        }
        return all;
    }

    protected static RetryOptions FastRetries(int attempts = 5) => new(attempts, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(5));

    // ---------------------------------------------------------------- write, read, stat

    [SkippableFact]
    public async Task WriteThenRead_RoundTripsEveryKind()
    {
        IStore store = await StoreAsync();
        int seed = 1;
        foreach (ObjectKind kind in ObjectKinds.All)
        {
            ObjectName name = RandomName(kind);
            byte[] content = RandomBytes(1000 + seed * 37, seed++);
            await WriteAsync(store, name, content);

            ObjectInfo? info = await store.StatAsync(name, Ct);
            Assert.NotNull(info);
            Assert.Equal(name, info.Name);
            Assert.Equal(content.Length, info.Length);
            Assert.Equal(content, await ReadAllAsync(store, name, 0, content.Length));
        }
    }

    [SkippableFact]
    public async Task EmptyObject_RoundTrips()
    {
        IStore store = await StoreAsync();
        ObjectName name = RandomName(ObjectKind.Locks);
        await WriteAsync(store, name, []);
        Assert.Equal(0, (await store.StatAsync(name, Ct))?.Length);
        await store.ReadAsync(name, 0, Memory<byte>.Empty, Ct);
        await Assert.ThrowsAsync<PermanentStoreException>(() => store.ReadAsync(name, 0, new byte[1], Ct));
    }

    [SkippableFact]
    public async Task RangedReads_ReturnExactlyTheRequestedBytes()
    {
        IStore store = await StoreAsync();
        foreach (ObjectKind kind in new[] { ObjectKind.Index, ObjectKind.Data })
        {
            ObjectName name = RandomName(kind);
            byte[] content = RandomBytes(100_000, 7);
            await WriteAsync(store, name, content);
            (int Offset, int Length)[] ranges = [(0, 1), (0, 100_000), (1, 99_999), (99_999, 1), (4096, 4096), (12_345, 54_321), (50_000, 0)];
            foreach ((int offset, int length) in ranges)
            {
                byte[] got = await ReadAllAsync(store, name, offset, length);
                Assert.True(content.AsSpan(offset, length).SequenceEqual(got), $"{kind} bytes {offset}+{length} differ");
            }
        }
    }

    [SkippableFact]
    public async Task ReadingPastTheEnd_IsAPermanentErrorNamingTheObject()
    {
        IStore store = await StoreAsync();
        ObjectName name = RandomName(ObjectKind.Snapshots);
        await WriteAsync(store, name, RandomBytes(1000, 3));
        foreach ((long offset, int length) in new (long, int)[] { (990, 20), (0, 1001), (1000, 1), (5000, 10) })
        {
            var e = await Assert.ThrowsAsync<PermanentStoreException>(() => store.ReadAsync(name, offset, new byte[length], Ct));
            Assert.Contains(name.Path, e.Message, StringComparison.Ordinal);
        }
    }

    [SkippableFact]
    public async Task Write_TakesContentFromTheStreamsCurrentPosition()
    {
        IStore store = await StoreAsync();
        ObjectName name = RandomName(ObjectKind.Keys);
        byte[] content = RandomBytes(5000, 11);
        using var ms = new MemoryStream(content, writable: false) { Position = 1000 };
        await store.WriteAsync(name, ms, Ct);
        Assert.Equal(4000, (await store.StatAsync(name, Ct))?.Length);
        Assert.Equal(content[1000..], await ReadAllAsync(store, name, 0, 4000));
    }

    [SkippableFact]
    public async Task Stat_OfAMissingObjectIsNull()
    {
        IStore store = await StoreAsync();
        Assert.Null(await store.StatAsync(RandomName(ObjectKind.Index), Ct));
        Assert.Null(await store.StatAsync(RandomName(ObjectKind.Data), Ct));
        Assert.Null(await store.StatAsync(ObjectName.Config, Ct));
    }

    [SkippableFact]
    public async Task ReadingAMissingObject_ThrowsObjectNotFound()
    {
        IStore store = await StoreAsync();
        foreach (ObjectKind kind in new[] { ObjectKind.Config, ObjectKind.Index, ObjectKind.Data })
        {
            ObjectName name = RandomName(kind);
            var e = await Assert.ThrowsAsync<ObjectNotFoundException>(() => store.ReadAsync(name, 0, new byte[10], Ct));
            Assert.Equal(name, e.Name);
            Assert.Contains(store.Location, e.Message, StringComparison.Ordinal);
        }
    }

    [SkippableFact]
    public async Task LargeObject_RoundTripsByteForByte_AndStaysCreateOnly()
    {
        IStore store = await StoreAsync();
        ObjectName name = RandomName(ObjectKind.Data);
        byte[] content = RandomBytes(LargeObjectBytes, 40);
        await WriteAsync(store, name, content);
        Assert.Equal(content.Length, (await store.StatAsync(name, Ct))?.Length);

        var got = new byte[content.Length];
        await MakeReadableAsync(store, name);
        const int chunk = 7 * MiB;
        for (int offset = 0; offset < content.Length; offset += chunk)
        {
            int n = Math.Min(chunk, content.Length - offset);
            await store.ReadAsync(name, offset, got.AsMemory(offset, n), Ct);
        }
        Assert.True(content.AsSpan().SequenceEqual(got), "the large object came back different");

        // A retry of the same upload is a success; different bytes of the same length are refused.
        await WriteAsync(store, name, content);
        byte[] other = (byte[])content.Clone();
        other[^1] ^= 0xff;
        await Assert.ThrowsAsync<ObjectExistsException>(() => WriteAsync(store, name, other));
        byte[] tail = new byte[16];
        await store.ReadAsync(name, content.Length - 16, tail, Ct);
        Assert.Equal(content[^16..], tail);
    }

    // ---------------------------------------------------------------- create-only

    [SkippableFact]
    public async Task CreateOnly_SameBytesAgainIsASuccess()
    {
        IStore store = await StoreAsync();
        foreach (ObjectKind kind in new[] { ObjectKind.Config, ObjectKind.Index, ObjectKind.Data })
        {
            ObjectName name = RandomName(kind);
            byte[] content = RandomBytes(3000, 5);
            await WriteAsync(store, name, content);
            await WriteAsync(store, name, content);
            Assert.Equal(content, await ReadAllAsync(store, name, 0, content.Length));
        }
    }

    [SkippableFact]
    public async Task CreateOnly_DifferentBytesThrowAndLeaveTheObjectUnchanged()
    {
        IStore store = await StoreAsync();
        foreach (ObjectKind kind in new[] { ObjectKind.Config, ObjectKind.Snapshots, ObjectKind.Data })
        {
            ObjectName name = RandomName(kind);
            byte[] content = RandomBytes(3000, 6);
            await WriteAsync(store, name, content);

            byte[] sameLength = RandomBytes(3000, 66);
            var e = await Assert.ThrowsAsync<ObjectExistsException>(() => WriteAsync(store, name, sameLength));
            Assert.Equal(name, e.Name);
            await Assert.ThrowsAsync<ObjectExistsException>(() => WriteAsync(store, name, RandomBytes(10, 67)));
            await Assert.ThrowsAsync<ObjectExistsException>(() => WriteAsync(store, name, []));

            Assert.Equal(content.Length, (await store.StatAsync(name, Ct))?.Length);
            Assert.Equal(content, await ReadAllAsync(store, name, 0, content.Length));
        }
    }

    [SkippableFact]
    public async Task CreateOnly_ConcurrentIdenticalWritesAllSucceed()
    {
        IStore store = await StoreAsync();
        ObjectName name = RandomName(ObjectKind.Index);
        byte[] content = RandomBytes(200_000, 8);
        await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(() => WriteAsync(store, name, content))));
        Assert.Equal(content, await ReadAllAsync(store, name, 0, content.Length));
    }

    // ---------------------------------------------------------------- list, delete

    [SkippableFact]
    public async Task List_ReturnsEachKindsObjectsAndNothingElse()
    {
        IStore store = await StoreAsync();
        var written = new Dictionary<ObjectName, int>();
        int seed = 100;
        foreach (ObjectKind kind in ObjectKinds.All)
        {
            int count = kind switch { ObjectKind.Config => 1, ObjectKind.Locks => 0, _ => 3 };
            for (int i = 0; i < count; i++)
            {
                ObjectName name = RandomName(kind);
                int length = 10 + seed;
                await WriteAsync(store, name, RandomBytes(length, seed++));
                written[name] = length;
            }
        }
        foreach (ObjectKind kind in ObjectKinds.All)
        {
            List<ObjectInfo> listed = await ListAllAsync(store, kind);
            var expected = written.Where(w => w.Key.Kind == kind).OrderBy(w => w.Key.Path, StringComparer.Ordinal).ToList();
            Assert.Equal(expected.Select(w => w.Key), listed.Select(o => o.Name).OrderBy(n => n.Path, StringComparer.Ordinal));
            foreach (ObjectInfo o in listed)
            {
                Assert.Equal(written[o.Name], o.Length);
                Assert.False(string.IsNullOrEmpty(o.StorageClass));
            }
        }
    }

    [SkippableFact]
    public async Task List_ReturnsEveryObjectOfALongListing()
    {
        IStore store = await StoreAsync();
        var names = Enumerable.Range(0, ManyObjects).Select(_ => RandomName(ObjectKind.Catalogs)).ToList();
        await Parallel.ForEachAsync(names, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = Ct },
            async (name, _) => await WriteAsync(store, name, [1, 2, 3]));
        List<ObjectInfo> listed = await ListAllAsync(store, ObjectKind.Catalogs);
        Assert.Equal(names.Count, listed.Count);
        Assert.Equal(names.ToHashSet(), listed.Select(o => o.Name).ToHashSet());
        Assert.All(listed, o => Assert.Equal(3, o.Length));
    }

    [SkippableFact]
    public async Task List_SkipsNamesTheRepositoryCannotHaveWritten()
    {
        IStore store = await StoreAsync();
        ObjectName good = RandomName(ObjectKind.Tree);
        await WriteAsync(store, good, [1]);
        await PlantForeignObjectAsync("tree/NOT-HEX", [2]);
        await PlantForeignObjectAsync("tree/ab/cd", [3]);
        await PlantForeignObjectAsync("trees/" + good.Name, [4]);
        await PlantForeignObjectAsync("configuration", [5]);
        Assert.Equal(new[] { good }, (await ListAllAsync(store, ObjectKind.Tree)).Select(o => o.Name));
        Assert.Empty(await ListAllAsync(store, ObjectKind.Config));
    }

    [SkippableFact]
    public async Task Delete_RemovesTheObject_AndDeletingAMissingObjectSucceeds()
    {
        IStore store = await StoreAsync();
        foreach (ObjectKind kind in new[] { ObjectKind.Locks, ObjectKind.Data })
        {
            ObjectName name = RandomName(kind);
            ObjectName other = RandomName(kind);
            await WriteAsync(store, name, [1, 2, 3]);
            await WriteAsync(store, other, [4, 5, 6]);
            await store.DeleteAsync(name, Ct);
            Assert.Null(await store.StatAsync(name, Ct));
            await Assert.ThrowsAsync<ObjectNotFoundException>(() => store.ReadAsync(name, 0, new byte[1], Ct));
            Assert.Equal(new[] { other }, (await ListAllAsync(store, kind)).Select(o => o.Name));
            await store.DeleteAsync(name, Ct);
            await store.DeleteAsync(RandomName(kind), Ct);
            // The name is free again: a new object may take it.
            await WriteAsync(store, name, [7]);
            Assert.Equal(1, (await store.StatAsync(name, Ct))?.Length);
        }
    }

    // ---------------------------------------------------------------- names, thaw

    [Fact]
    public void ObjectNames_RefuseAnythingButLowerCaseHex()
    {
        foreach (string bad in new[] { "", "ABCD", "../config", "ab/cd", "a b", "zz", "0x12", new string('a', 129), "config" })
        {
            Assert.Throws<ArgumentException>(() => new ObjectName(ObjectKind.Data, bad));
        }
        Assert.Throws<ArgumentException>(() => new ObjectName(ObjectKind.Config, "ab"));
        Assert.Null(ObjectName.TryParsePath("data/../config"));
        Assert.Null(ObjectName.TryParsePath("data/AB"));
        Assert.Null(ObjectName.TryParsePath("/data/ab"));
        Assert.Null(ObjectName.TryParsePath("nothing/ab"));
        Assert.Equal(new ObjectName(ObjectKind.Data, "ab"), ObjectName.TryParsePath("data/ab"));
    }

    [SkippableFact]
    public async Task ThawStatus_OfWarmObjectsIsReadable()
    {
        IStore store = await StoreAsync();
        foreach (ObjectKind kind in ObjectKinds.All.Where(k => ObjectKinds.TierOf(k) == Tier.Warm))
        {
            ObjectName name = RandomName(kind);
            await WriteAsync(store, name, [9]);
            ThawStatus status = await store.GetThawStatusAsync(name, Ct);
            Assert.Equal(ThawState.Readable, status.State);
            Assert.True(status.CanRead);
            // Asking for a thaw of a warm object changes nothing.
            await store.RequestThawAsync(name, new ThawRequest(ThawTier.Bulk, 1), Ct);
            Assert.Equal(ThawState.Readable, (await store.GetThawStatusAsync(name, Ct)).State);
        }
    }

    // ---------------------------------------------------------------- decorators over this store

    [SkippableFact]
    public async Task RetryingStore_RetriesTransientErrorsThenSucceeds()
    {
        IStore store = await StoreAsync();
        var faults = new FaultInjectingStore(store)
            .FailWrite(1, new TransientStoreException("injected"))
            .FailWrite(2, new TransientStoreException("injected"))
            .FailRead(1, new TransientStoreException("injected"));
        var retries = new List<StoreRetry>();
        var retrying = new RetryingStore(faults, FastRetries(), onRetry: r => { lock (retries) { retries.Add(r); } });
        ObjectName name = RandomName(ObjectKind.Index);
        byte[] content = RandomBytes(10_000, 12);
        await WriteAsync(retrying, name, content);
        Assert.Equal(content, await ReadAllAsync(retrying, name, 0, content.Length));
        Assert.Equal(3, faults.Writes);
        Assert.Equal(2, faults.Reads);
        Assert.Equal(new[] { "write", "write", "read" }, retries.Select(r => r.Operation));
        Assert.All(retries, r => Assert.Equal(name.Path, r.Target));
    }

    [SkippableFact]
    public async Task RetryingStore_RetriesAWriteWhoseAnswerWasLost()
    {
        IStore store = await StoreAsync();
        var faults = new FaultInjectingStore(store).LoseWriteResponse(1);
        var retrying = new RetryingStore(faults, FastRetries());
        ObjectName name = RandomName(ObjectKind.Data);
        byte[] content = RandomBytes(50_000, 13);
        await WriteAsync(retrying, name, content);
        Assert.Equal(2, faults.Writes);
        Assert.Equal(content, await ReadAllAsync(store, name, 0, content.Length));
    }

    [SkippableFact]
    public async Task RetryingStore_GivesUpAfterItsAttempts_AndNeverRetriesOtherErrors()
    {
        IStore store = await StoreAsync();
        ObjectName name = RandomName(ObjectKind.Index);
        await WriteAsync(store, name, [1, 2, 3]);
        var faults = new FaultInjectingStore(store);
        for (int i = 1; i <= 6; i++)
        {
            faults.FailRead(i, new TransientStoreException($"injected {i}"));
        }
        var retrying = new RetryingStore(faults, FastRetries(5));
        var e = await Assert.ThrowsAsync<TransientStoreException>(() => retrying.ReadAsync(name, 0, new byte[3], Ct));
        Assert.Equal("injected 5", e.Message);
        Assert.Equal(5, faults.Reads);

        await Assert.ThrowsAsync<ObjectNotFoundException>(() => retrying.ReadAsync(RandomName(ObjectKind.Index), 0, new byte[1], Ct));
        await Assert.ThrowsAsync<ObjectExistsException>(() => WriteAsync(retrying, name, [4, 5, 6]));
        Assert.Equal(1, faults.Writes);
    }

    [SkippableFact]
    public async Task TruncatedWrite_LeavesNoObject()
    {
        IStore store = await StoreAsync();
        var faults = new FaultInjectingStore(store).TruncateWrite(1, 3000);
        ObjectName name = RandomName(ObjectKind.Data);
        await Assert.ThrowsAnyAsync<Exception>(() => WriteAsync(faults, name, RandomBytes(10_000, 14)));
        Assert.Null(await store.StatAsync(name, Ct));
        Assert.Empty(await ListAllAsync(store, ObjectKind.Data));
    }

    [SkippableFact]
    public async Task LimitingStore_PassesEveryOperationThrough()
    {
        IStore store = await StoreAsync();
        // Not disposed: that would dispose the store under test, which the base class disposes.
        var limited = new LimitingStore(store, connections: 2);
        Assert.Equal(2, limited.Properties.Connections);
        var names = Enumerable.Range(0, 12).Select(_ => RandomName(ObjectKind.Snapshots)).ToList();
        await Task.WhenAll(names.Select(n => WriteAsync(limited, n, [1, 2])));
        int listed = 0;
        await foreach (ObjectInfo o in limited.ListAsync(ObjectKind.Snapshots, Ct))
        {
            // Using the store inside its own listing must not deadlock, even with one slot per caller.
            Assert.NotNull(await limited.StatAsync(o.Name, Ct));
            listed++;
        }
        Assert.Equal(names.Count, listed);
        Assert.Equal(0, limited.InFlight);
    }
}
