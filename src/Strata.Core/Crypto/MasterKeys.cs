using System.Security.Cryptography;
using NSec.Cryptography;

namespace Strata.Crypto;

/// <summary>
/// The repository's key material. Owners hold all three keys; writers hold no private key, so they can add
/// data (sealed to the public key) and deduplicate (ids keyed by the dedup key) but never decrypt.
/// Derived keys (HKDF-SHA-256 from the dedup key, info strings in docs/format.md):
/// the index key seals index segments, catalogs and snapshot headers, which writers must read to deduplicate;
/// the chunker key seeds the FastCDC gear table, so chunk boundaries do not reveal content to outsiders;
/// the lock key seals lock objects, which every key (writer or owner) must create and read.
/// </summary>
public sealed class MasterKeys
{
    public MasterKeys(byte[] dedupKey, byte[] publicKey, byte[]? privateKey)
    {
        DedupKey = dedupKey;
        PublicKey = publicKey;
        PrivateKey = privateKey;
        IndexKey = Derive(dedupKey, "strata index key v1");
        ChunkerKey = Derive(dedupKey, "strata chunker key v1");
        LockKey = Derive(dedupKey, "strata lock key v1");
    }

    public byte[] DedupKey { get; }
    public byte[] PublicKey { get; }
    public byte[]? PrivateKey { get; }
    public byte[] IndexKey { get; }
    public byte[] ChunkerKey { get; }
    public byte[] LockKey { get; }

    public bool CanRead => PrivateKey is not null;

    public static MasterKeys CreateNew()
    {
        var (priv, pub) = KeyWrap.NewKeyPair();
        return new MasterKeys(RandomNumberGenerator.GetBytes(32), pub, priv);
    }

    public MasterKeys WriterOnly() => new(DedupKey, PublicKey, null);

    private static byte[] Derive(byte[] key, string info) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, key, 32, salt: null, info: System.Text.Encoding.UTF8.GetBytes(info));

    public BlobId IdOf(ReadOnlySpan<byte> plaintext) => BlobId.Keyed(DedupKey, plaintext);
}

/// <summary>Argon2id through libsodium (NSec). Parameters are stored in each key file so they can grow later.</summary>
public static class PasswordKdf
{
    public const int SaltSize = 16;

    public static byte[] Derive(string password, ReadOnlySpan<byte> salt, int memoryKiB, int passes)
    {
        var parameters = new Argon2Parameters { DegreeOfParallelism = 1, MemorySize = memoryKiB, NumberOfPasses = passes };
        var alg = PasswordBasedKeyDerivationAlgorithm.Argon2id(in parameters);
        return alg.DeriveBytes(System.Text.Encoding.UTF8.GetBytes(password), salt, Aead.KeySize);
    }
}
