using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Strata.Crypto;

namespace Strata.Locks;

/// <summary>How a lock shares the repository with others.</summary>
public enum LockMode
{
    /// <summary>Reads or adds without removing anything (restore, check, copy): excluded only by an exclusive lock.</summary>
    [JsonStringEnumMemberName("shared")]
    Shared,

    /// <summary>
    /// A backup: shared with other hosts, exclusive against the same host (two runs from one machine would
    /// race on the same writer cache and parent) and against exclusive locks.
    /// </summary>
    [JsonStringEnumMemberName("host")]
    Host,

    /// <summary>Removes data (purge, compact): excludes every other lock and waits for them to end.</summary>
    [JsonStringEnumMemberName("exclusive")]
    Exclusive,
}

/// <summary>
/// The content of one <c>locks/&lt;id&gt;</c> object (JSON, sealed; see docs/format.md). The id is 32 random bytes
/// in hex; refreshing writes a new object with a new time and deletes the old one, since objects are create-only.
/// </summary>
/// <param name="Host">The host the lock is for (a backup's --host); two Host locks conflict when these are equal.</param>
/// <param name="Machine">The machine the process runs on; with <paramref name="Pid"/> it tells whether the holder still lives.</param>
/// <param name="Time">When the lock was written (created or last refreshed).</param>
/// <param name="Purpose">What the holder does ("backup", "purge", ...), for messages.</param>
public sealed record LockRecord(
    int Version,
    LockMode Mode,
    string Host,
    string Machine,
    int Pid,
    string User,
    DateTimeOffset Time,
    string Purpose)
{
    public const int CurrentVersion = 1;

    /// <summary>Whether a lock held in <paramref name="mode"/> for <paramref name="host"/> cannot coexist with this one.</summary>
    public bool ConflictsWith(LockMode mode, string host) =>
        Mode == LockMode.Exclusive || mode == LockMode.Exclusive || (Mode == LockMode.Host && mode == LockMode.Host && string.Equals(Host, host, StringComparison.Ordinal));

    /// <summary>"backup by host laptop (pid 4242, user alice) since 2025-01-01 10:00:00Z", for messages.</summary>
    public string Describe()
    {
        string host = Machine == Host ? $"host {Host}" : $"host {Host} (machine {Machine})";
        return $"{Mode.ToString().ToLowerInvariant()} lock for {Purpose} by {host}, pid {Pid}, user {User}, written {Time:u}";
    }

    /// <summary>Seals the record for the object <c>locks/<paramref name="id"/></c>: AES-256-GCM under the lock key, the id as associated data.</summary>
    public byte[] Seal(byte[] lockKey, string id)
    {
        byte[] plain = JsonSerializer.SerializeToUtf8Bytes(this, LockJson.Default.LockRecord);
        using var aead = new Aead(lockKey);
        return aead.Seal(plain, AssociatedData(id));
    }

    /// <summary>The record, or null when the bytes do not open under this key and id (damaged, or not a Strata lock).</summary>
    public static LockRecord? TryOpen(byte[] sealedBytes, byte[] lockKey, string id)
    {
        using var aead = new Aead(lockKey);
        byte[]? plain = aead.TryOpen(sealedBytes, AssociatedData(id));
        if (plain is null)
        {
            return null;
        }
        try
        {
            LockRecord? r = JsonSerializer.Deserialize(plain, LockJson.Default.LockRecord);
            return r is { Version: CurrentVersion } ? r : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static byte[] AssociatedData(string id) => Encoding.UTF8.GetBytes("strata lock v1 " + id);
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, UseStringEnumConverter = true)]
[JsonSerializable(typeof(LockRecord))]
internal sealed partial class LockJson : JsonSerializerContext;
