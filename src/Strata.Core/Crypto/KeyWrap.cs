using NSec.Cryptography;

namespace Strata.Crypto;

/// <summary>
/// Seals a 32-byte content key to the repository's X25519 public key, so that writers (who hold only the
/// public key) can encrypt and only the owner's private key can decrypt. The construction is ECIES as in age:
/// an ephemeral X25519 key pair, the shared secret through HKDF-SHA-256 (salt = ephemeral public key ||
/// recipient public key, info = "strata key wrap v1") into a one-time AES-256-GCM key, which seals the content key.
/// Output, <see cref="Size"/> = 92 bytes: ephemeral public key (32) | nonce (12) | sealed content key (32) | tag (16).
/// </summary>
public static class KeyWrap
{
    public const int Size = 32 + Aead.Overhead + Aead.KeySize; // 92

    private static readonly byte[] Info = "strata key wrap v1"u8.ToArray();

    public static byte[] Wrap(ReadOnlySpan<byte> recipientPublicKey, ReadOnlySpan<byte> contentKey)
    {
        byte[] output = new byte[Size];
        Wrap(recipientPublicKey, contentKey, output);
        return output;
    }

    public static void Wrap(ReadOnlySpan<byte> recipientPublicKey, ReadOnlySpan<byte> contentKey, Span<byte> output)
    {
        var x = KeyAgreementAlgorithm.X25519;
        using var eph = Key.Create(x);
        var recipient = PublicKey.Import(x, recipientPublicKey, KeyBlobFormat.RawPublicKey);
        byte[] ephPub = eph.PublicKey.Export(KeyBlobFormat.RawPublicKey);
        using SharedSecret shared = x.Agree(eph, recipient) ?? throw new CryptoFailureException("X25519 agreement failed (low-order public key)");
        byte[] kek = Derive(shared, ephPub, recipientPublicKey);
        ephPub.CopyTo(output);
        using var aead = new Aead(kek);
        aead.Seal(contentKey, ephPub, output[32..Size]);
    }

    /// <summary>Recovers the content key with the owner's private key; null when the wrap was not made for this key or was altered.</summary>
    public static byte[]? Unwrap(ReadOnlySpan<byte> privateKey, ReadOnlySpan<byte> wrapped)
    {
        if (wrapped.Length != Size)
        {
            return null;
        }
        var x = KeyAgreementAlgorithm.X25519;
        using var own = Key.Import(x, privateKey, KeyBlobFormat.RawPrivateKey);
        byte[] ownPub = own.PublicKey.Export(KeyBlobFormat.RawPublicKey);
        var ephPub = PublicKey.Import(x, wrapped[..32], KeyBlobFormat.RawPublicKey);
        using SharedSecret? shared = x.Agree(own, ephPub);
        if (shared is null)
        {
            return null;
        }
        byte[] kek = Derive(shared, wrapped[..32], ownPub);
        using var aead = new Aead(kek);
        return aead.TryOpen(wrapped[32..], wrapped[..32]);
    }

    private static byte[] Derive(SharedSecret shared, ReadOnlySpan<byte> ephPub, ReadOnlySpan<byte> recipientPub)
    {
        byte[] salt = new byte[64];
        ephPub.CopyTo(salt);
        recipientPub.CopyTo(salt.AsSpan(32));
        return KeyDerivationAlgorithm.HkdfSha256.DeriveBytes(shared, salt, Info, Aead.KeySize);
    }

    /// <summary>A new X25519 key pair: (private, public), 32 bytes each.</summary>
    public static (byte[] Private, byte[] Public) NewKeyPair()
    {
        using var k = Key.Create(KeyAgreementAlgorithm.X25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        return (k.Export(KeyBlobFormat.RawPrivateKey), k.PublicKey.Export(KeyBlobFormat.RawPublicKey));
    }

    public static byte[] PublicOf(ReadOnlySpan<byte> privateKey)
    {
        using var k = Key.Import(KeyAgreementAlgorithm.X25519, privateKey, KeyBlobFormat.RawPrivateKey);
        return k.PublicKey.Export(KeyBlobFormat.RawPublicKey);
    }
}

public sealed class CryptoFailureException : Exception
{
    public CryptoFailureException(string message) : base(message) { }
}
