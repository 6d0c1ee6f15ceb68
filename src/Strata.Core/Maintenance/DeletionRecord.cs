using System.Text.Json;
using System.Text.Json.Serialization;
using Strata.Crypto;
using Strata.Repository;
using Strata.Stores;

namespace Strata.Maintenance;

/// <summary>Why a deletion record names its packs.</summary>
public enum DeletionReason
{
    /// <summary>Compaction copied the packs' live blobs into <see cref="DeletionRecord.Replacements"/>; purge deletes them later.</summary>
    Compact,
    /// <summary>A purge is deleting these packs right now; nothing may use them any more.</summary>
    Purge,
}

/// <summary>
/// deletions/&lt;id&gt;: packs on their way out (docs/format.md §16). Compact writes one naming the packs it superseded;
/// purge writes one naming the packs it is about to delete, before it deletes anything, so a purge killed halfway
/// leaves no index pointing into a half-deleted set. Sealed with the index key (writers may read it, to skip those
/// packs when deduplicating); the id is the SHA-256 of the sealed bytes.
/// </summary>
public sealed record DeletionRecord
{
    public int Version { get; init; } = 1;
    public required DateTimeOffset Time { get; init; }
    public required DeletionReason Reason { get; init; }
    /// <summary>The packs to delete (hex ids).</summary>
    public required IReadOnlyList<string> Packs { get; init; }
    /// <summary>Compact: the packs that now hold the live blobs of <see cref="Packs"/>.</summary>
    public IReadOnlyList<string> Replacements { get; init; } = [];
    public string Host { get; init; } = "";

    private static ReadOnlySpan<byte> Aad => "strata deletion v1"u8;

    public byte[] Seal(byte[] indexKey)
    {
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(this, DeletionJson.Default.DeletionRecord);
        using var a = new Aead(indexKey);
        return a.Seal(json, Aad);
    }

    public static DeletionRecord Open(byte[] sealedBytes, byte[] indexKey, string where)
    {
        using var a = new Aead(indexKey);
        byte[] json = a.TryOpen(sealedBytes, Aad) ?? throw new CorruptionException($"{where}: the deletion record does not authenticate (damaged, or another repository's)");
        DeletionRecord r;
        try
        {
            r = JsonSerializer.Deserialize(json, DeletionJson.Default.DeletionRecord) ?? throw new CorruptionException($"{where}: empty deletion record");
        }
        catch (JsonException e)
        {
            throw new CorruptionException($"{where}: the deletion record is not valid JSON: {e.Message}");
        }
        if (r.Version != 1)
        {
            throw new RepositoryFormatException($"{where}: deletion record version {r.Version} is not supported; upgrade strata");
        }
        return r;
    }
}

/// <summary>A deletion record with its object id.</summary>
public sealed record DeletionRecordRef(string Id, DeletionRecord Record);

public static class DeletionRecords
{
    public static async Task<List<DeletionRecordRef>> ListAsync(IStore store, byte[] indexKey, CancellationToken ct)
    {
        var list = new List<DeletionRecordRef>();
        await foreach (ObjectInfo o in store.ListAsync(ObjectKind.Deletions, ct).ConfigureAwait(false))
        {
            byte[] bytes = await Repo.ReadWholeAsync(store, o.Name, o.Length, ct).ConfigureAwait(false);
            list.Add(new DeletionRecordRef(o.Name.Name, DeletionRecord.Open(bytes, indexKey, o.Name.Path)));
        }
        list.Sort((a, b) => a.Record.Time.CompareTo(b.Record.Time));
        return list;
    }

    public static async Task<string> WriteAsync(Repo repo, DeletionRecord record, CancellationToken ct) =>
        await repo.WriteObjectAsync(ObjectKind.Deletions, record.Seal(repo.Keys.IndexKey), ct).ConfigureAwait(false);
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, UseStringEnumConverter = true)]
[JsonSerializable(typeof(DeletionRecord))]
internal sealed partial class DeletionJson : JsonSerializerContext;
