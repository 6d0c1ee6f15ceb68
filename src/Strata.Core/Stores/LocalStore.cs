using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Strata.Stores;

/// <summary>
/// A repository in a local folder. Objects are files under their kind's folder (data packs under
/// data/XX/ by the first two hex digits). Creation is atomic: the bytes go to tmp/, are fsynced, and are
/// hard-linked to their final name, which fails if the name exists, so a crash leaves at most a stray temp file.
/// With a cold simulation (<see cref="ColdSimulation"/>) data packs cannot be read until thawed, like Deep Archive.
/// </summary>
public sealed class LocalStore : IStore, IStagingStore, IColdTransition
{
    private const string SimulationFile = ".cold-simulation";
    private readonly string _root;
    private readonly TimeProvider _clock;
    private ColdSimulation? _simulation;

    /// <summary>
    /// Open read handles of packs, so a restore reading thousands of blobs from a few packs opens each pack once.
    /// Objects are immutable, so a cached handle never reads stale bytes; DeleteAsync drops the handle. At most
    /// <see cref="MaxHandles"/> are kept (the cache is emptied when full).
    /// </summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Microsoft.Win32.SafeHandles.SafeFileHandle> _handles = new(StringComparer.Ordinal);
    private const int MaxHandles = 128;

    public LocalStore(string root, TimeProvider? clock = null)
    {
        _root = Path.GetFullPath(root);
        _clock = clock ?? TimeProvider.System;
        _simulation = ColdSimulation.Load(Path.Combine(_root, SimulationFile));
    }

    public string Root => _root;

    public string Location => _root;

    /// <summary>A simulated cold tier is priced as AWS S3 Deep Archive (with STANDARD for warm objects), so a rehearsal shows real numbers.</summary>
    public StoreProperties Properties => _simulation is null
        ? new(Connections: 4, HasColdTier: false)
        : new(Connections: 4, HasColdTier: true, SimulatedCold: true, PriceProvider: "aws-s3", ColdStorageClass: "DEEP_ARCHIVE", WarmStorageClass: "STANDARD");

    public ColdSimulation? Simulation => _simulation;

    /// <summary>
    /// With a cold simulation: new data objects are staged (readable, as if in STANDARD) until
    /// <see cref="MoveToColdAsync"/>; a marker under .staged/ records it.
    /// </summary>
    public bool StagesWarm { get; set; }

    private string StagedPathOf(ObjectName name) => Path.Combine(_root, ".staged", name.Name);

    public bool IsStaged(ObjectInfo info) => _simulation is not null && info.Name.Tier == Tier.Cold && File.Exists(StagedPathOf(info.Name));

    public Task MoveToColdAsync(ObjectName name, CancellationToken ct)
    {
        TryDelete(StagedPathOf(name));
        return Task.CompletedTask;
    }

    /// <summary>Turns on the cold-tier simulation for this folder (at init). Writes a marker file the store reads when opened.</summary>
    public void EnableColdSimulation(ColdSimulation simulation)
    {
        Directory.CreateDirectory(_root);
        File.WriteAllText(Path.Combine(_root, SimulationFile), JsonSerializer.Serialize(simulation, StoreJson.Default.ColdSimulation));
        _simulation = simulation;
    }

    public string StagingDirectory
    {
        get
        {
            string tmp = Path.Combine(_root, "tmp");
            Directory.CreateDirectory(tmp);
            return tmp;
        }
    }

    private string PathOf(ObjectName name) => name.Kind switch
    {
        ObjectKind.Config => Path.Combine(_root, "config"),
        ObjectKind.Data => Path.Combine(_root, "data", name.Name.Length >= 2 ? name.Name[..2] : "00", name.Name),
        _ => Path.Combine(_root, ObjectKinds.Folder(name.Kind), name.Name),
    };

    private string ThawPathOf(ObjectName name) => Path.Combine(_root, ".thaw", name.Name);

    public Task<ObjectInfo?> StatAsync(ObjectName name, CancellationToken ct)
    {
        var fi = new FileInfo(PathOf(name));
        if (!fi.Exists)
        {
            return Task.FromResult<ObjectInfo?>(null);
        }
        return Task.FromResult<ObjectInfo?>(new ObjectInfo(name, fi.Length, fi.LastWriteTimeUtc, ClassOf(name)));
    }

    private string ClassOf(ObjectName name) =>
        _simulation is not null && name.Tier == Tier.Cold && !File.Exists(StagedPathOf(name)) ? "local-cold (simulated)" : "local";

    public async Task ReadAsync(ObjectName name, long offset, Memory<byte> buffer, CancellationToken ct)
    {
        string path = PathOf(name);
        if (_simulation is not null && name.Tier == Tier.Cold && !File.Exists(StagedPathOf(name)))
        {
            ThawStatus status = await GetThawStatusAsync(name, ct).ConfigureAwait(false);
            if (!status.CanRead)
            {
                throw new ObjectFrozenException(Location, name, ClassOf(name), status);
            }
        }
        try
        {
            try
            {
                ReadExactly(name, OpenCached(name, path), offset, buffer.Span);
            }
            catch (ObjectDisposedException)
            {
                // the handle cache was emptied while this read held a handle: read with a handle of its own
                using var own = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.None);
                ReadExactly(name, own, offset, buffer.Span);
            }
        }
        catch (FileNotFoundException)
        {
            throw new ObjectNotFoundException(Location, name);
        }
        catch (DirectoryNotFoundException)
        {
            throw new ObjectNotFoundException(Location, name);
        }
        catch (IOException e)
        {
            throw new TransientStoreException($"reading {name.Path} in {Location}: {e.Message}", e);
        }
    }

    private void ReadExactly(ObjectName name, Microsoft.Win32.SafeHandles.SafeFileHandle handle, long offset, Span<byte> buffer)
    {
        try
        {
            int total = 0;
            while (total < buffer.Length)
            {
                int n = RandomAccess.Read(handle, buffer[total..], offset + total);
                if (n == 0)
                {
                    throw new PermanentStoreException($"{name.Path} in {Location} is shorter than expected: wanted bytes {offset}..{offset + buffer.Length}, it ends at {offset + total}");
                }
                total += n;
            }
        }
        finally
        {
            if (name.Kind is not (ObjectKind.Data or ObjectKind.Tree))
            {
                handle.Dispose();
            }
        }
    }

    private Microsoft.Win32.SafeHandles.SafeFileHandle OpenCached(ObjectName name, string path)
    {
        if (name.Kind is not (ObjectKind.Data or ObjectKind.Tree))
        {
            return File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.None);
        }
        if (_handles.TryGetValue(path, out var cached) && !cached.IsClosed)
        {
            return cached;
        }
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.None);
        if (_handles.Count >= MaxHandles)
        {
            foreach (var key in _handles.Keys)
            {
                if (_handles.TryRemove(key, out var old))
                {
                    old.Dispose();
                }
            }
        }
        return _handles.GetOrAdd(path, handle) is var winner && winner != handle ? DisposeAndReturn(handle, winner) : handle;
    }

    private static Microsoft.Win32.SafeHandles.SafeFileHandle DisposeAndReturn(Microsoft.Win32.SafeHandles.SafeFileHandle loser, Microsoft.Win32.SafeHandles.SafeFileHandle winner)
    {
        loser.Dispose();
        return winner;
    }

    public async Task WriteAsync(ObjectName name, Stream content, CancellationToken ct)
    {
        string temp = Path.Combine(StagingDirectory, Guid.NewGuid().ToString("N"));
        try
        {
            await using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                await content.CopyToAsync(fs, 1 << 20, ct).ConfigureAwait(false);
                fs.Flush(flushToDisk: true);
            }
            await AdoptAsync(name, temp, ct).ConfigureAwait(false);
        }
        catch (IOException e) when (IsDiskFull(e))
        {
            throw new PermanentStoreException($"writing {name.Path} in {Location}: the disk is full", e);
        }
        finally
        {
            TryDelete(temp);
        }
    }

    /// <summary>Moves a finished file from <see cref="StagingDirectory"/> to its final name: fsync, then create-only link.</summary>
    public async Task AdoptAsync(ObjectName name, string stagedPath, CancellationToken ct)
    {
        string dest = PathOf(name);
        string dir = Path.GetDirectoryName(dest)!;
        Directory.CreateDirectory(dir);
        using (var h = File.OpenHandle(stagedPath, FileMode.Open, FileAccess.ReadWrite))
        {
            Platform.Posix.FSync(h);
        }
        if (StagesWarm && _simulation is not null && name.Tier == Tier.Cold)
        {
            Directory.CreateDirectory(Path.Combine(_root, ".staged"));
            File.WriteAllText(StagedPathOf(name), "");
        }
        if (Platform.Posix.Link(stagedPath, dest))
        {
            TryDelete(stagedPath);
            Platform.Posix.FSyncDirectory(dir);
            return;
        }
        // The name exists: identical bytes make this a retry (success); anything else is refused.
        bool same = await FilesEqualAsync(stagedPath, dest, ct).ConfigureAwait(false);
        TryDelete(stagedPath);
        if (!same)
        {
            throw new ObjectExistsException(Location, name);
        }
    }

    private static async Task<bool> FilesEqualAsync(string a, string b, CancellationToken ct)
    {
        var fa = new FileInfo(a);
        var fb = new FileInfo(b);
        if (fa.Length != fb.Length)
        {
            return false;
        }
        await using var sa = fa.OpenRead();
        await using var sb = fb.OpenRead();
        byte[] ba = new byte[1 << 16];
        byte[] bb = new byte[1 << 16];
        while (true)
        {
            int na = await sa.ReadAtLeastAsync(ba, ba.Length, false, ct).ConfigureAwait(false);
            int nb = await sb.ReadAtLeastAsync(bb, bb.Length, false, ct).ConfigureAwait(false);
            if (na != nb || !ba.AsSpan(0, na).SequenceEqual(bb.AsSpan(0, nb)))
            {
                return false;
            }
            if (na == 0)
            {
                return true;
            }
        }
    }

    private static bool IsDiskFull(IOException e) => e.HResult == 28 || e.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase);

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    public Task DeleteAsync(ObjectName name, CancellationToken ct)
    {
        if (_handles.TryRemove(PathOf(name), out var h))
        {
            h.Dispose();
        }
        TryDeleteStrict(PathOf(name));
        TryDelete(ThawPathOf(name));
        TryDelete(StagedPathOf(name));
        return Task.CompletedTask;
    }

    private void TryDeleteStrict(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (DirectoryNotFoundException)
        {
        }
        catch (UnauthorizedAccessException e)
        {
            throw new PermanentStoreException($"deleting {path}: permission denied", e);
        }
    }

    public async IAsyncEnumerable<ObjectInfo> ListAsync(ObjectKind kind, [EnumeratorCancellation] CancellationToken ct)
    {
        await Task.Yield();
        if (kind == ObjectKind.Config)
        {
            var fi = new FileInfo(Path.Combine(_root, "config"));
            if (fi.Exists)
            {
                yield return new ObjectInfo(ObjectName.Config, fi.Length, fi.LastWriteTimeUtc, "local");
            }
            yield break;
        }
        string dir = Path.Combine(_root, ObjectKinds.Folder(kind));
        if (!Directory.Exists(dir))
        {
            yield break;
        }
        var options = new EnumerationOptions { RecurseSubdirectories = kind == ObjectKind.Data, IgnoreInaccessible = true };
        foreach (var fi in new DirectoryInfo(dir).EnumerateFiles("*", options))
        {
            ct.ThrowIfCancellationRequested();
            if (ObjectName.IsValidName(kind, fi.Name) && TryStat(fi, out long length, out DateTime modified))
            {
                var name = new ObjectName(kind, fi.Name);
                yield return new ObjectInfo(name, length, modified, ClassOf(name));
            }
        }
    }

    /// <summary>
    /// Length and mtime of a listed file; false when it was deleted after the directory was read (a released lock, a
    /// pruned pack): a listing shows what exists, and FileInfo would otherwise throw FileNotFoundException here.
    /// </summary>
    private static bool TryStat(FileInfo fi, out long length, out DateTime modified)
    {
        try
        {
            length = fi.Length;
            modified = fi.LastWriteTimeUtc;
            return true;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            length = 0;
            modified = default;
            return false;
        }
    }

    public Task<ThawStatus> GetThawStatusAsync(ObjectName name, CancellationToken ct)
    {
        if (_simulation is null || name.Tier != Tier.Cold)
        {
            return Task.FromResult(new ThawStatus(ThawState.Readable));
        }
        if (!File.Exists(PathOf(name)))
        {
            throw new ObjectNotFoundException(Location, name);
        }
        if (File.Exists(StagedPathOf(name)))
        {
            return Task.FromResult(new ThawStatus(ThawState.Readable));
        }
        string tp = ThawPathOf(name);
        if (!File.Exists(tp))
        {
            return Task.FromResult(new ThawStatus(ThawState.Frozen));
        }
        var record = JsonSerializer.Deserialize(File.ReadAllText(tp), StoreJson.Default.SimulatedThaw)!;
        DateTimeOffset now = _clock.GetUtcNow();
        if (now >= record.ExpiresAt)
        {
            return Task.FromResult(new ThawStatus(ThawState.Frozen, record.ReadyAt, record.ExpiresAt));
        }
        return Task.FromResult(now >= record.ReadyAt
            ? new ThawStatus(ThawState.Thawed, record.ReadyAt, record.ExpiresAt)
            : new ThawStatus(ThawState.Thawing, record.ReadyAt, record.ExpiresAt));
    }

    public async Task RequestThawAsync(ObjectName name, ThawRequest request, CancellationToken ct)
    {
        if (_simulation is null || name.Tier != Tier.Cold)
        {
            return;
        }
        ThawStatus status = await GetThawStatusAsync(name, ct).ConfigureAwait(false);
        if (status.State is ThawState.Thawing)
        {
            return;
        }
        DateTimeOffset now = _clock.GetUtcNow();
        DateTimeOffset ready = now + _simulation.DelayFor(request.Tier);
        var record = new SimulatedThaw(now, ready, ready + TimeSpan.FromSeconds(_simulation.DaySeconds * request.Days), request.Tier.ToString());
        Directory.CreateDirectory(Path.Combine(_root, ".thaw"));
        string tmp = ThawPathOf(name) + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(record, StoreJson.Default.SimulatedThaw));
        File.Move(tmp, ThawPathOf(name), overwrite: true);
    }

    public ValueTask DisposeAsync()
    {
        foreach (var h in _handles.Values)
        {
            h.Dispose();
        }
        _handles.Clear();
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// Settings of a simulated cold tier: how long a thaw takes per retrieval tier, and how long a simulated
/// "day" lasts (86,400 s for a faithful rehearsal; tests shorten it so thawed copies expire quickly).
/// </summary>
public sealed record ColdSimulation(double DelaySeconds, double DaySeconds = 86400)
{
    /// <summary>Bulk takes the configured delay; Standard a quarter of it; Expedited a hundredth (as Deep Archive's 48 h vs 12 h).</summary>
    public TimeSpan DelayFor(ThawTier tier) => TimeSpan.FromSeconds(tier switch
    {
        ThawTier.Bulk => DelaySeconds,
        ThawTier.Standard => DelaySeconds / 4,
        _ => DelaySeconds / 100,
    });

    internal static ColdSimulation? Load(string path) =>
        File.Exists(path) ? JsonSerializer.Deserialize(File.ReadAllText(path), StoreJson.Default.ColdSimulation) : null;
}

internal sealed record SimulatedThaw(DateTimeOffset RequestedAt, DateTimeOffset ReadyAt, DateTimeOffset ExpiresAt, string Tier);

/// <summary>A store that can take a finished local file by rename instead of copying it (the local folder).</summary>
public interface IStagingStore
{
    /// <summary>A folder on the same file system as the store, for files that will be adopted.</summary>
    string StagingDirectory { get; }

    Task AdoptAsync(ObjectName name, string stagedPath, CancellationToken ct);
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(ColdSimulation))]
[JsonSerializable(typeof(SimulatedThaw))]
internal sealed partial class StoreJson : JsonSerializerContext;
