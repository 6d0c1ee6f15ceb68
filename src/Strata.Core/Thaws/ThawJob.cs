using System.Text.Json;
using System.Text.Json.Serialization;
using Strata.Crypto;
using Strata.Repository;
using Strata.Stores;

namespace Strata.Thaws;

/// <summary>What a job record says happened. Each is a new immutable object; the newest (highest sequence) is the job's state.</summary>
public static class ThawJobEvents
{
    /// <summary>The first thaw requests of a restore.</summary>
    public const string Submitted = "submitted";
    /// <summary>A later run asked again for packs that were frozen (never requested, or expired).</summary>
    public const string Rerequested = "re-requested";
    /// <summary>Every file of the restore is written; nothing is left to wait for.</summary>
    public const string Completed = "completed";
}

/// <summary>One cold pack of a job.</summary>
/// <param name="Id">The pack id (data/&lt;id&gt;).</param>
/// <param name="Bytes">Its size: what a thaw of it retrieves.</param>
/// <param name="RequestedAt">When this job last asked for it to be thawed; null when it was readable and needed no request.</param>
/// <param name="Requests">How many times this job asked for it (more than one: it expired and was asked for again).</param>
public sealed record ThawJobPack(string Id, long Bytes, DateTimeOffset? RequestedAt = null, int Requests = 0);

/// <summary>
/// thaws/&lt;id&gt;: one state of a restore job. Records are never overwritten: each state change that matters (submitted,
/// re-requested, completed) writes a new record with the same <see cref="JobId"/> and the next <see cref="Sequence"/>,
/// listing every pack of the job, so the newest record alone says what the job is. Sealed with the index key
/// (AES-256-GCM, AAD "strata thaw job v1"); the object id is the SHA-256 of the sealed bytes. docs/cold-storage.md.
/// </summary>
public sealed record ThawJobRecord
{
    public int Version { get; init; } = 1;
    /// <summary>32 hex digits, random; the same for every record of a job. Users name a job by a prefix of it.</summary>
    public required string JobId { get; init; }
    public required int Sequence { get; init; }
    public required string Event { get; init; }
    public required DateTimeOffset Time { get; init; }
    /// <summary>The thaws/ object this record follows, if any.</summary>
    public string? Previous { get; init; }
    /// <summary>The full id of the snapshot restored.</summary>
    public required string SnapshotId { get; init; }
    /// <summary>The absolute folder restored into, or "-" for a dump to standard output.</summary>
    public required string Target { get; init; }
    /// <summary>For a dump: the file's absolute path in the snapshot.</summary>
    public string? DumpPath { get; init; }
    public IReadOnlyList<string> Includes { get; init; } = [];
    public IReadOnlyList<string> Excludes { get; init; } = [];
    public required ThawTier Tier { get; init; }
    /// <summary>Days each thawed copy is kept.</summary>
    public required int Days { get; init; }
    public string StorageClass { get; init; } = "";
    /// <summary>The cold tier is the local simulation.</summary>
    public bool Simulated { get; init; }
    /// <summary>What the job's requests so far were estimated to cost, summed over its records (retrieval + requests + egress + thawed copy).</summary>
    public decimal EstimatedUsd { get; init; }
    /// <summary>When the requests of this record should all be ready (the store's answer if it gives one, else the tier's slowest time).</summary>
    public DateTimeOffset? ExpectedReadyAt { get; init; }
    public string Host { get; init; } = "";
    public string? Note { get; init; }
    public IReadOnlyList<ThawJobPack> Packs { get; init; } = [];

    public string ShortId => JobId.Length > 8 ? JobId[..8] : JobId;
}

/// <summary>A job: its newest record, and when it was first submitted.</summary>
/// <param name="ObjectId">The thaws/ object holding <paramref name="Latest"/>.</param>
public sealed record ThawJob(ThawJobRecord Latest, string ObjectId, DateTimeOffset FirstRequestedAt, int Records)
{
    public string Id => Latest.JobId;
    public string ShortId => Latest.ShortId;
    public bool Completed => Latest.Event == ThawJobEvents.Completed;

    /// <summary>Same snapshot, target, includes and excludes: a run of the same restore (or dump).</summary>
    public bool Matches(string snapshotId, string target, string? dumpPath, IReadOnlyList<string> includes, IReadOnlyList<string> excludes) =>
        Latest.SnapshotId == snapshotId && Latest.Target == target && Latest.DumpPath == dumpPath
        && Latest.Includes.Order(StringComparer.Ordinal).SequenceEqual(includes.Order(StringComparer.Ordinal))
        && Latest.Excludes.Order(StringComparer.Ordinal).SequenceEqual(excludes.Order(StringComparer.Ordinal));
}

/// <summary>Reading and writing thaws/ records. Warm objects only.</summary>
public static class ThawJobs
{
    private static ReadOnlySpan<byte> Aad => "strata thaw job v1"u8;

    public static string NewJobId() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

    public static byte[] Seal(ThawJobRecord record, byte[] indexKey)
    {
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(record, ThawJson.Default.ThawJobRecord);
        using var aead = new Aead(indexKey);
        return aead.Seal(json, Aad);
    }

    public static ThawJobRecord Open(ReadOnlySpan<byte> sealedRecord, byte[] indexKey, string where)
    {
        using var aead = new Aead(indexKey);
        byte[] json = aead.TryOpen(sealedRecord, Aad) ?? throw new CorruptionException($"{where}: thaw job record fails authentication (damaged, or another repository's)");
        try
        {
            ThawJobRecord r = JsonSerializer.Deserialize(json, ThawJson.Default.ThawJobRecord) ?? throw new CorruptionException($"{where}: empty thaw job record");
            if (r.Version != 1)
            {
                throw new CorruptionException($"{where}: thaw job record version {r.Version} is not supported; upgrade strata");
            }
            return r;
        }
        catch (JsonException e)
        {
            throw new CorruptionException($"{where}: thaw job record is not valid: {e.Message}");
        }
    }

    /// <summary>Writes a new record (create-only, content-addressed) and returns its object id.</summary>
    public static Task<string> WriteAsync(Repo repo, ThawJobRecord record, CancellationToken ct) =>
        repo.WriteObjectAsync(ObjectKind.Thaws, Seal(record, repo.Keys.IndexKey), ct);

    /// <summary>
    /// Every job, newest record each, most recently submitted first. A record that does not open is reported in
    /// <paramref name="damaged"/> (if given) and skipped, so one damaged object never blocks a restore.
    /// </summary>
    public static async Task<List<ThawJob>> ListAsync(Repo repo, CancellationToken ct, List<string>? damaged = null)
    {
        var records = new List<(ThawJobRecord Record, string Object)>();
        await foreach (ObjectInfo o in repo.Store.ListAsync(ObjectKind.Thaws, ct).ConfigureAwait(false))
        {
            try
            {
                byte[] bytes = await Repo.ReadWholeAsync(repo.Store, o.Name, o.Length, ct).ConfigureAwait(false);
                records.Add((Open(bytes, repo.Keys.IndexKey, o.Name.Path), o.Name.Name));
            }
            catch (CorruptionException e)
            {
                damaged?.Add(e.Message);
            }
        }
        return [.. records.GroupBy(r => r.Record.JobId).Select(g =>
        {
            var latest = g.OrderByDescending(r => r.Record.Sequence).ThenByDescending(r => r.Record.Time).First();
            return new ThawJob(latest.Record, latest.Object, g.Min(r => r.Record.Time), g.Count());
        }).OrderByDescending(j => j.FirstRequestedAt)];
    }

    /// <summary>The job whose id starts with <paramref name="prefix"/>; a message naming the choices when none or several match.</summary>
    public static async Task<ThawJob> FindAsync(Repo repo, string prefix, CancellationToken ct)
    {
        prefix = prefix.Trim().ToLowerInvariant();
        var jobs = await ListAsync(repo, ct).ConfigureAwait(false);
        var matches = jobs.Where(j => j.Id.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        return matches.Count switch
        {
            1 => matches[0],
            0 => throw new UserInputException(jobs.Count == 0
                ? $"no thaw job '{prefix}': {repo.Location} has no thaw jobs"
                : $"no thaw job '{prefix}' in {repo.Location}; 'strata thaws' lists them"),
            _ => throw new UserInputException($"thaw job prefix '{prefix}' is ambiguous: it matches {string.Join(", ", matches.Select(m => m.ShortId))}"),
        };
    }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(ThawJobRecord))]
internal sealed partial class ThawJson : JsonSerializerContext;
