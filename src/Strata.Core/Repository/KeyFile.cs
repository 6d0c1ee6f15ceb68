using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Strata.Crypto;

namespace Strata.Repository;

public enum KeyRole
{
    Owner,
    Writer,
}

/// <summary>
/// keys/&lt;id&gt;: a passphrase-wrapped copy of the repository keys (JSON, see docs/format.md). The payload is
/// sealed with AES-256-GCM under an Argon2id key of the passphrase; the associated data is the role, so a
/// writer file cannot be relabelled as an owner file. The object id is the SHA-256 of the file's bytes.
/// </summary>
public sealed record KeyFile(
    int Version,
    string Role,
    DateTimeOffset Created,
    string Host,
    string Username,
    string Kdf,
    int MemoryKib,
    int Passes,
    string Salt,
    string Data)
{
    public const int CurrentVersion = 1;

    public static KeyFile Create(MasterKeys keys, KeyRole role, string password, string host, string username, DateTimeOffset now, int memoryKib = 32768, int passes = 3)
    {
        byte[] salt = RandomNumberGenerator.GetBytes(PasswordKdf.SaltSize);
        byte[] kek = PasswordKdf.Derive(password, salt, memoryKib, passes);
        var payload = new KeyPayload(
            Convert.ToBase64String(keys.DedupKey),
            Convert.ToBase64String(keys.PublicKey),
            role == KeyRole.Owner ? Convert.ToBase64String(keys.PrivateKey ?? throw new InvalidOperationException("an owner key needs the private key")) : null);
        byte[] plain = JsonSerializer.SerializeToUtf8Bytes(payload, RepoJson.Default.KeyPayload);
        string roleName = RoleName(role);
        using var aead = new Aead(kek);
        byte[] sealedData = aead.Seal(plain, Encoding.UTF8.GetBytes(roleName));
        return new KeyFile(CurrentVersion, roleName, now, host, username, "argon2id", memoryKib, passes, Convert.ToBase64String(salt), Convert.ToBase64String(sealedData));
    }

    public KeyRole KeyRole => Role == "owner" ? KeyRole.Owner : KeyRole.Writer;

    private static string RoleName(KeyRole role) => role == KeyRole.Owner ? "owner" : "writer";

    /// <summary>The keys, or null when the passphrase does not open this file.</summary>
    public MasterKeys? TryOpen(string password)
    {
        if (Kdf != "argon2id" || Version != CurrentVersion)
        {
            return null;
        }
        byte[] kek = PasswordKdf.Derive(password, Convert.FromBase64String(Salt), MemoryKib, Passes);
        using var aead = new Aead(kek);
        byte[]? plain = aead.TryOpen(Convert.FromBase64String(Data), Encoding.UTF8.GetBytes(Role));
        if (plain is null)
        {
            return null;
        }
        var p = JsonSerializer.Deserialize(plain, RepoJson.Default.KeyPayload)!;
        byte[]? priv = p.PrivateKey is null ? null : Convert.FromBase64String(p.PrivateKey);
        byte[] pub = Convert.FromBase64String(p.PublicKey);
        if (priv is not null && !KeyWrap.PublicOf(priv).AsSpan().SequenceEqual(pub))
        {
            return null;
        }
        return new MasterKeys(Convert.FromBase64String(p.DedupKey), pub, priv);
    }

    public byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, RepoJson.Default.KeyFile);

    public static KeyFile Parse(byte[] bytes, string where)
    {
        try
        {
            return JsonSerializer.Deserialize(bytes, RepoJson.Default.KeyFile) ?? throw new RepositoryFormatException($"{where} is empty");
        }
        catch (JsonException e)
        {
            throw new RepositoryFormatException($"{where} is not a valid key file: {e.Message}");
        }
    }
}

internal sealed record KeyPayload(string DedupKey, string PublicKey, string? PrivateKey);

/// <summary>The repository's structure is damaged or from an unknown format; the message names the object.</summary>
public class RepositoryFormatException : Exception
{
    public RepositoryFormatException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>A blob or object failed authentication or its hash: bit rot, truncation or tampering. Names the object.</summary>
public sealed class CorruptionException : RepositoryFormatException
{
    public CorruptionException(string message) : base(message) { }
}

/// <summary>The operation needs to decrypt, and the repository was opened with a writer key.</summary>
public sealed class WriterKeyException : Exception
{
    public WriterKeyException(string what)
        : base($"{what} needs the owner key: this repository was opened with a writer key, which can add backups but cannot read them") { }
}

/// <summary>No key file opens with the given passphrase.</summary>
public sealed class WrongPasswordException : Exception
{
    public WrongPasswordException(string location)
        : base($"wrong password: no key in {location} opens with it") { }
}
