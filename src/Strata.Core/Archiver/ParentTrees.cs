using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Text.Json;
using Strata.Crypto;
using Strata.Repository;
using Strata.Snapshots;

namespace Strata.Archiver;

/// <summary>The previous version of a source: the parent for change detection and version numbering.</summary>
/// <param name="Time">When the previous version was first recorded (an unchanged re-run does not move it).</param>
/// <param name="Policy">The source's policy as the latest snapshot of the source recorded it (header field, readable by writers).</param>
/// <param name="BandPack">The band pack that holds <paramref name="Tree"/> (an unchanged run names it too), when known.</param>
public sealed record PreviousSnapshot(string SnapshotId, BlobId? Tree, int Version, DateTimeOffset Time, string? State = null, string? Policy = null, string? BandPack = null);

/// <summary>
/// Where the backup finds the parent snapshot's trees. With the owner key they are read from the repository.
/// A writer cannot decrypt them, so it keeps a local cache of what it sent last time: per source, the last
/// snapshot id and its trees (plaintext, on the writer's own disk, in $XDG_CACHE_HOME/strata/REPO-ID/). Losing
/// the cache only costs a re-read of the files; deduplication still avoids re-uploading them.
/// </summary>
public sealed class ParentTrees
{
    private readonly Repo _repo;
    private readonly string _cacheDir;
    private readonly ConcurrentDictionary<BlobId, byte[]> _cached = new();
    private readonly ConcurrentDictionary<BlobId, byte[]> _written = new();
    private readonly bool _useCache;

    public ParentTrees(Repo repo, string cacheRoot)
    {
        _repo = repo;
        _cacheDir = Path.Combine(cacheRoot, repo.Config.Id);
        _useCache = !repo.Keys.CanRead;
    }

    public static string DefaultCacheRoot()
    {
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(string.IsNullOrEmpty(xdg) ? Path.Combine(home, ".cache") : xdg, "strata");
    }

    private List<(string Id, SnapshotHeader Header)>? _headers;

    /// <summary>Every snapshot header, read once per run (the CLI asks for the policy before the archiver asks for the parent).</summary>
    private async Task<List<(string Id, SnapshotHeader Header)>> HeadersAsync(CancellationToken ct) =>
        _headers ??= await _repo.ListSnapshotHeadersAsync(ct).ConfigureAwait(false);

    /// <summary>The policy the latest snapshot of the source recorded, or null when there is none.</summary>
    public async Task<string?> PreviousPolicyAsync(string sourceId, CancellationToken ct)
    {
        var headers = await HeadersAsync(ct).ConfigureAwait(false);
        return headers.Where(h => h.Header.SourceId == sourceId).OrderBy(h => h.Header.Time).Select(h => h.Header.Policy).LastOrDefault();
    }

    public async Task<PreviousSnapshot?> FindPreviousAsync(string sourceId, string? explicitParent, CancellationToken ct)
    {
        var headers = await HeadersAsync(ct).ConfigureAwait(false);
        var same = headers.Where(h => h.Header.SourceId == sourceId).OrderBy(h => h.Header.Time).ToList();
        int version = same.Count == 0 ? 0 : same.Max(h => h.Header.Version);
        DateTimeOffset versionTime = same.Where(h => h.Header.Version == version).Select(h => h.Header.Time).DefaultIfEmpty().Min();
        if (_useCache)
        {
            CacheRecord? rec = ReadRecord(sourceId);
            var last = same.LastOrDefault();
            if (same.Count == 0)
            {
                return null;
            }
            BlobId? tree = null;
            if (rec is not null && same.Any(h => h.Id == rec.SnapshotId) && LoadCachedTrees(rec.SnapshotId))
            {
                tree = BlobId.Parse(rec.Tree);
            }
            return new PreviousSnapshot(last.Id, tree, version, versionTime, last.Header.State, last.Header.Policy, tree is null ? null : rec!.BandPack);
        }
        if (explicitParent is not null)
        {
            SnapshotRef p = await _repo.FindSnapshotAsync(explicitParent, ct).ConfigureAwait(false);
            return new PreviousSnapshot(p.Id, BlobId.Parse(p.Snapshot.Tree), version, versionTime, same.LastOrDefault().Header?.State, same.LastOrDefault().Header?.Policy, p.Snapshot.BandPack);
        }
        if (same.Count == 0)
        {
            return null;
        }
        var latest = same[^1];
        byte[] bytes = await _repo.ReadWholeAsync(new Stores.ObjectName(Stores.ObjectKind.Snapshots, latest.Id), ct).ConfigureAwait(false);
        Snapshot s = SnapshotCodec.OpenBody(bytes, _repo.Keys, $"snapshots/{latest.Id}");
        return new PreviousSnapshot(latest.Id, BlobId.Parse(s.Tree), version, versionTime, latest.Header.State, latest.Header.Policy, s.BandPack);
    }

    public async Task<Tree?> LoadTreeAsync(BlobId id, CancellationToken ct)
    {
        if (_useCache)
        {
            return _cached.TryGetValue(id, out byte[]? data) ? Tree.Decode(data, $"cached tree {id.Short}") : null;
        }
        try
        {
            return await _repo.LoadTreeAsync(id, ct).ConfigureAwait(false);
        }
        catch (CorruptionException)
        {
            return null; // a damaged parent only costs a re-read
        }
    }

    public void CacheTree(BlobId id, byte[] data)
    {
        if (_useCache)
        {
            _written.TryAdd(id, data);
        }
    }

    public Task RecordAsync(string sourceId, string snapshotId, Snapshot snapshot, CancellationToken ct)
    {
        if (!_useCache)
        {
            return Task.CompletedTask;
        }
        Directory.CreateDirectory(_cacheDir);
        string treesFile = Path.Combine(_cacheDir, $"trees-{snapshotId}");
        CacheRecord? previous = ReadRecord(sourceId);
        string previousTrees = previous is null ? "" : Path.Combine(_cacheDir, $"trees-{previous.SnapshotId}");
        if (previous is not null && previous.Tree == snapshot.Tree && File.Exists(previousTrees))
        {
            // An unchanged run points at the previous tree: keep the trees that describe it.
            File.Move(previousTrees, treesFile, overwrite: true);
            File.WriteAllText(RecordPath(sourceId), JsonSerializer.Serialize(new CacheRecord(snapshotId, snapshot.Tree, snapshot.BandPack ?? previous.BandPack), CacheJson.Default.CacheRecord));
            return Task.CompletedTask;
        }
        using (var fs = new FileStream(treesFile + ".tmp", FileMode.Create))
        {
            Span<byte> len = stackalloc byte[4];
            foreach (var (id, data) in _written)
            {
                fs.Write(id.ToBytes());
                BinaryPrimitives.WriteInt32LittleEndian(len, data.Length);
                fs.Write(len);
                fs.Write(data);
            }
        }
        File.Move(treesFile + ".tmp", treesFile, overwrite: true);
        CacheRecord? old = ReadRecord(sourceId);
        var rec = new CacheRecord(snapshotId, snapshot.Tree, snapshot.BandPack);
        File.WriteAllText(RecordPath(sourceId), JsonSerializer.Serialize(rec, CacheJson.Default.CacheRecord));
        if (old is not null && old.SnapshotId != snapshotId)
        {
            File.Delete(Path.Combine(_cacheDir, $"trees-{old.SnapshotId}"));
        }
        return Task.CompletedTask;
    }

    private string RecordPath(string sourceId) => Path.Combine(_cacheDir, $"source-{sourceId}.json");

    private CacheRecord? ReadRecord(string sourceId)
    {
        try
        {
            return File.Exists(RecordPath(sourceId)) ? JsonSerializer.Deserialize(File.ReadAllText(RecordPath(sourceId)), CacheJson.Default.CacheRecord) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private bool LoadCachedTrees(string snapshotId)
    {
        string file = Path.Combine(_cacheDir, $"trees-{snapshotId}");
        if (!File.Exists(file))
        {
            return false;
        }
        byte[] all = File.ReadAllBytes(file);
        int at = 0;
        while (at + 36 <= all.Length)
        {
            var id = BlobId.Read(all.AsSpan(at));
            int len = BinaryPrimitives.ReadInt32LittleEndian(all.AsSpan(at + 32));
            if (at + 36 + len > all.Length)
            {
                return false;
            }
            _cached[id] = all.AsSpan(at + 36, len).ToArray();
            at += 36 + len;
        }
        return true;
    }
}

/// <param name="BandPack">The band pack holding <paramref name="Tree"/>; null in records older than tree bundles.</param>
public sealed record CacheRecord(string SnapshotId, string Tree, string? BandPack = null);

[System.Text.Json.Serialization.JsonSerializable(typeof(CacheRecord))]
internal sealed partial class CacheJson : System.Text.Json.Serialization.JsonSerializerContext;
