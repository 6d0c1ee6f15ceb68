using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Serialization;
using Strata.Archiver;
using Strata.Crypto;
using Strata.Repository;

namespace Strata.Snapshots;

/// <summary>A file or folder the backup could not read, with the reason.</summary>
public sealed record SkippedEntry(string Path, string Error);

public sealed record SnapshotStats
{
    public long FilesNew { get; init; }
    public long FilesChanged { get; init; }
    public long FilesUnchanged { get; init; }
    public long Directories { get; init; }
    public long BytesRead { get; init; }
    public long BytesTotal { get; init; }
    public long BytesAdded { get; init; }
    public long BytesStored { get; init; }
    public long BlobsAdded { get; init; }
    public long PacksAdded { get; init; }
    public double Seconds { get; init; }
}

/// <summary>
/// One backup of one source. The body (this record) is sealed to the public key: only the owner reads it.
/// The <see cref="SnapshotHeader"/> beside it is sealed with the index key so writers can number versions.
/// </summary>
public sealed record Snapshot
{
    public required DateTimeOffset Time { get; init; }
    public required string Host { get; init; }
    public string Username { get; init; } = "";
    public required IReadOnlyList<string> Paths { get; init; }
    public IReadOnlyList<string> Tags { get; init; } = [];
    public required string Tree { get; init; }
    public string? Parent { get; init; }
    public required string SourceId { get; init; }
    public int Version { get; init; } = 1;
    /// <summary>Keyed hash of the whole tree without access times: equal states mean nothing changed.</summary>
    public string? State { get; init; }
    /// <summary>Set when nothing changed since that version: this snapshot adds no new version.</summary>
    public int? UnchangedSince { get; init; }
    /// <summary>Seconds since the previous version of the same source, if any.</summary>
    public double? SecondsSincePrevious { get; init; }
    public IReadOnlyList<SkippedEntry> Skipped { get; init; } = [];
    public IReadOnlyList<string> ChangedWhileReading { get; init; } = [];
    public bool Partial { get; init; }
    public string? BandPack { get; init; }
    public SnapshotStats Stats { get; init; } = new();
    public string Program { get; init; } = "strata";
    /// <summary>What the backup left out (absent when nothing was filtered); `verify` applies the same filters.</summary>
    public FilterOptions? Filters { get; init; }
    /// <summary>The source's policy ("worm", "dedup"; absent: none). Also in the header, so writers remember it.</summary>
    public string? Policy { get; init; }
    /// <summary>
    /// Worm sources: what changed since the previous backup (an empty list: checked, nothing changed; absent: not
    /// checked, e.g. a first backup or a writer without its cache).
    /// </summary>
    public IReadOnlyList<WormChange>? WormChanges { get; init; }
    /// <summary>For a backup of a stream (stdin, a command's output, a database dump) or a bucket copy: where the bytes came from.</summary>
    public SourceInfo? Source { get; init; }
}

/// <summary>
/// Where the one file of a stream snapshot (or the tree of a bucket copy) came from. Never holds a password: for a database, the kind, name, host,
/// port and user, and the dump tool with its version (what a restore needs to know it can read the dump).
/// </summary>
public sealed record SourceInfo
{
    /// <summary>stdin, command, postgres or mysql; s3 for a bucket copy (strata bucket snapshot --copy).</summary>
    public required string Kind { get; init; }
    /// <summary>The file's name in the snapshot's root folder; for a bucket copy, the copied folder's path without its leading '/' (s3/BUCKET).</summary>
    public required string FileName { get; init; }
    /// <summary>Where a copied tree came from (a bucket copy: s3:http://host:port/BUCKET[/folder], no secrets); its versions follow it.</summary>
    public string? Location { get; init; }
    public string? Database { get; init; }
    public string? DatabaseHost { get; init; }
    public int? DatabasePort { get; init; }
    public string? DatabaseUser { get; init; }
    /// <summary>The program that produced the bytes (pg_dump, mariadb-dump, /bin/sh).</summary>
    public string? Tool { get; init; }
    /// <summary>The first line of the tool's --version.</summary>
    public string? ToolVersion { get; init; }
    /// <summary>What the bytes are: "pg_dump custom", "sql", or null when unknown.</summary>
    public string? Format { get; init; }
}

/// <summary>What a writer may know of a snapshot: enough to number versions of its source, nothing about contents.</summary>
public sealed record SnapshotHeader(DateTimeOffset Time, string SourceId, int Version, string? State = null, string? Policy = null);

/// <summary>
/// snapshots/&lt;id&gt; layout: "STRSNAP1" | u32 header length | header (sealed, index key) | wrapped key (92) | body (sealed, that key).
/// The id is the SHA-256 of the bytes.
/// </summary>
public static class SnapshotCodec
{
    private static ReadOnlySpan<byte> Magic => "STRSNAP1"u8;
    private static ReadOnlySpan<byte> HeaderAad => "strata snapshot header v1"u8;
    private static ReadOnlySpan<byte> BodyAad => "strata snapshot v1"u8;

    public static byte[] Seal(Snapshot s, MasterKeys keys)
    {
        byte[] header = JsonSerializer.SerializeToUtf8Bytes(new SnapshotHeader(s.Time, s.SourceId, s.Version, s.State, s.Policy), SnapshotJson.Default.SnapshotHeader);
        byte[] body = EncodeBody(s);
        byte[] sealedHeader;
        using (var a = new Aead(keys.IndexKey))
        {
            sealedHeader = a.Seal(header, HeaderAad);
        }
        byte[] key = Aead.NewKey();
        byte[] wrapped = KeyWrap.Wrap(keys.PublicKey, key);
        byte[] sealedBody;
        using (var a = new Aead(key))
        {
            sealedBody = a.Seal(body, BodyAad);
        }
        byte[] output = new byte[12 + sealedHeader.Length + wrapped.Length + sealedBody.Length];
        Magic.CopyTo(output);
        BinaryPrimitives.WriteInt32LittleEndian(output.AsSpan(8), sealedHeader.Length);
        sealedHeader.CopyTo(output, 12);
        wrapped.CopyTo(output, 12 + sealedHeader.Length);
        sealedBody.CopyTo(output, 12 + sealedHeader.Length + wrapped.Length);
        return output;
    }

    public static byte[] EncodeBody(Snapshot s) => JsonSerializer.SerializeToUtf8Bytes(s, SnapshotJson.Default.Snapshot);

    public static Snapshot DecodeBody(ReadOnlySpan<byte> body, string where)
    {
        try
        {
            return JsonSerializer.Deserialize(body, SnapshotJson.Default.Snapshot) ?? throw new CorruptionException($"{where}: empty snapshot");
        }
        catch (JsonException e)
        {
            throw new CorruptionException($"{where}: snapshot body is not valid: {e.Message}");
        }
    }

    private static int HeaderLength(ReadOnlySpan<byte> data, string where)
    {
        if (data.Length < 12 || !data[..8].SequenceEqual(Magic))
        {
            throw new CorruptionException($"{where}: not a snapshot object");
        }
        int n = BinaryPrimitives.ReadInt32LittleEndian(data[8..]);
        if (n < Aead.Overhead || 12 + n + KeyWrap.Size > data.Length)
        {
            throw new CorruptionException($"{where}: snapshot object is truncated");
        }
        return n;
    }

    public static SnapshotHeader OpenHeader(ReadOnlySpan<byte> data, MasterKeys keys, string where)
    {
        int n = HeaderLength(data, where);
        using var a = new Aead(keys.IndexKey);
        byte[] plain = a.TryOpen(data.Slice(12, n), HeaderAad) ?? throw new CorruptionException($"{where}: snapshot header fails authentication");
        return JsonSerializer.Deserialize(plain, SnapshotJson.Default.SnapshotHeader) ?? throw new CorruptionException($"{where}: empty snapshot header");
    }

    public static Snapshot OpenBody(ReadOnlySpan<byte> data, MasterKeys keys, string where)
    {
        int n = HeaderLength(data, where);
        byte[] priv = keys.PrivateKey ?? throw new WriterKeyException("reading a snapshot");
        byte[] key = KeyWrap.Unwrap(priv, data.Slice(12 + n, KeyWrap.Size)) ?? throw new CorruptionException($"{where}: snapshot key does not open (damaged, or another repository's)");
        using var a = new Aead(key);
        byte[] body = a.TryOpen(data[(12 + n + KeyWrap.Size)..], BodyAad) ?? throw new CorruptionException($"{where}: snapshot body fails authentication");
        return DecodeBody(body, where);
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(Snapshot))]
[JsonSerializable(typeof(SourceInfo))]
[JsonSerializable(typeof(SnapshotHeader))]
public sealed partial class SnapshotJson : JsonSerializerContext;
