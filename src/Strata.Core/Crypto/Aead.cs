using System.Security.Cryptography;

namespace Strata.Crypto;

/// <summary>
/// AES-256-GCM sealing in the one layout the repository uses everywhere:
/// nonce (12 bytes, random) | ciphertext | tag (16 bytes). Overhead <see cref="Overhead"/> bytes.
/// Keys are 32 random bytes; every sealed message under a key gets a fresh random nonce, and no key
/// seals more than a few million messages (pack keys seal one pack), far below GCM's 2^32 random-nonce bound.
/// </summary>
public sealed class Aead : IDisposable
{
    public const int KeySize = 32;
    public const int NonceSize = 12;
    public const int TagSize = 16;
    public const int Overhead = NonceSize + TagSize;

    private readonly AesGcm _gcm;

    public Aead(ReadOnlySpan<byte> key)
    {
        if (key.Length != KeySize)
        {
            throw new ArgumentException("AEAD keys are 32 bytes", nameof(key));
        }
        _gcm = new AesGcm(key, TagSize);
    }

    /// <summary>Seals <paramref name="plaintext"/> into <paramref name="output"/> (length plaintext + Overhead). Not thread-safe per instance.</summary>
    public void Seal(ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> associatedData, Span<byte> output)
    {
        Span<byte> nonce = output[..NonceSize];
        RandomNumberGenerator.Fill(nonce);
        _gcm.Encrypt(nonce, plaintext, output.Slice(NonceSize, plaintext.Length), output.Slice(NonceSize + plaintext.Length, TagSize), associatedData);
    }

    /// <summary>
    /// Seals <paramref name="text"/> in place: the ciphertext replaces the plaintext, and the random nonce and the tag
    /// go to <paramref name="nonce"/> and <paramref name="tag"/>. Written as nonce | text | tag, the bytes are exactly
    /// what <see cref="Seal(ReadOnlySpan{byte}, ReadOnlySpan{byte}, Span{byte})"/> would have produced with that nonce.
    /// </summary>
    public void SealInPlace(Span<byte> text, ReadOnlySpan<byte> associatedData, Span<byte> nonce, Span<byte> tag)
    {
        RandomNumberGenerator.Fill(nonce[..NonceSize]);
        _gcm.Encrypt(nonce[..NonceSize], text, text, tag[..TagSize], associatedData);
    }

    public byte[] Seal(ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> associatedData)
    {
        byte[] output = new byte[plaintext.Length + Overhead];
        Seal(plaintext, associatedData, output);
        return output;
    }

    /// <summary>Opens a sealed message into <paramref name="plaintext"/> (length sealed - Overhead); false when it was altered or the key is wrong.</summary>
    public bool TryOpen(ReadOnlySpan<byte> sealedMessage, ReadOnlySpan<byte> associatedData, Span<byte> plaintext)
    {
        if (sealedMessage.Length < Overhead)
        {
            return false;
        }
        int n = sealedMessage.Length - Overhead;
        try
        {
            _gcm.Decrypt(sealedMessage[..NonceSize], sealedMessage.Slice(NonceSize, n), sealedMessage.Slice(NonceSize + n, TagSize), plaintext[..n], associatedData);
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }
    }

    /// <summary>Opens a sealed message in place: the plaintext replaces the ciphertext (after the nonce). False when altered.</summary>
    public bool TryOpenInPlace(Span<byte> sealedMessage, ReadOnlySpan<byte> associatedData)
    {
        if (sealedMessage.Length < Overhead)
        {
            return false;
        }
        int n = sealedMessage.Length - Overhead;
        Span<byte> text = sealedMessage.Slice(NonceSize, n);
        try
        {
            _gcm.Decrypt(sealedMessage[..NonceSize], text, sealedMessage.Slice(NonceSize + n, TagSize), text, associatedData);
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }
    }

    public byte[]? TryOpen(ReadOnlySpan<byte> sealedMessage, ReadOnlySpan<byte> associatedData)
    {
        if (sealedMessage.Length < Overhead)
        {
            return null;
        }
        byte[] plain = new byte[sealedMessage.Length - Overhead];
        return TryOpen(sealedMessage, associatedData, plain) ? plain : null;
    }

    public static byte[] NewKey() => RandomNumberGenerator.GetBytes(KeySize);

    public void Dispose() => _gcm.Dispose();
}
