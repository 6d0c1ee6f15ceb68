using System.Buffers;
using System.Security.Cryptography;
using Strata.Crypto;
using Strata.Repository;

namespace Strata.Packs;

/// <summary>A finished pack on local disk, ready to upload: its id (SHA-256 of the bytes) and its catalog.</summary>
public sealed record FinishedPack(BlobId Id, PackKind Kind, string Path, long Length, IReadOnlyList<CatalogEntry> Entries, byte[] Tail);

/// <summary>
/// Builds one pack in a local file: sealed blobs appended in the order given (so blobs of a file stay
/// contiguous), then the sealed catalog and the trailer. The pack key is random per pack and is wrapped to
/// the repository's public key, so a writer can build packs it cannot read back. Memory: the catalog
/// (52 bytes per blob in memory) and, for <see cref="Add"/>, one sealing buffer (<see cref="AddInPlace"/> needs
/// none). Not thread-safe: one sequencer feeds it.
/// </summary>
public sealed class PackWriter : IDisposable
{
    private readonly FileStream _file;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly Aead _aead;
    private readonly byte[] _wrappedKey;
    private readonly MasterKeys _keys;
    private readonly List<CatalogEntry> _entries = [];
    private readonly HashSet<BlobId> _ids = [];
    private byte[] _sealBuffer = [];
    private long _length;
    private bool _finished;

    public PackWriter(string path, PackKind kind, MasterKeys keys)
    {
        Path = path;
        Kind = kind;
        _keys = keys;
        byte[] packKey = Aead.NewKey();
        _aead = new Aead(packKey);
        _wrappedKey = KeyWrap.Wrap(keys.PublicKey, packKey);
        CryptographicOperations.ZeroMemory(packKey);
        _file = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 20);
    }

    public string Path { get; }
    public PackKind Kind { get; }
    public long Length => _length;
    public int Count => _entries.Count;

    public bool Contains(BlobId id) => _ids.Contains(id);

    /// <summary>Seals and appends one blob. <paramref name="payload"/> is zstd output when <paramref name="compressed"/>, else the plaintext.</summary>
    public CatalogEntry Add(BlobId id, BlobKind kind, ReadOnlySpan<byte> payload, bool compressed, int rawLength)
    {
        int sealedLength = payload.Length + Aead.Overhead;
        if (_sealBuffer.Length < sealedLength)
        {
            if (_sealBuffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(_sealBuffer);
            }
            _sealBuffer = ArrayPool<byte>.Shared.Rent(Math.Max(sealedLength, 1 << 16));
        }
        Span<byte> idBytes = stackalloc byte[BlobId.Size];
        id.Write(idBytes);
        Span<byte> sealedSpan = _sealBuffer.AsSpan(0, sealedLength);
        _aead.Seal(payload, idBytes, sealedSpan);
        var entry = new CatalogEntry(id, kind, compressed, _length, sealedLength, rawLength);
        Append(sealedSpan);
        _entries.Add(entry);
        _ids.Add(id);
        return entry;
    }

    /// <summary>
    /// Like <see cref="Add"/>, but encrypts <paramref name="payload"/> where it lies (the caller's buffer holds
    /// ciphertext afterwards) and writes nonce, ciphertext and tag straight to the file: no sealing buffer, which for
    /// an 8 MiB chunk would be a 16 MiB rented array (the pool rounds up to a power of two) kept for the whole run.
    /// </summary>
    public CatalogEntry AddInPlace(BlobId id, BlobKind kind, Span<byte> payload, bool compressed, int rawLength)
    {
        Span<byte> idBytes = stackalloc byte[BlobId.Size];
        id.Write(idBytes);
        Span<byte> nonce = stackalloc byte[Aead.NonceSize];
        Span<byte> tag = stackalloc byte[Aead.TagSize];
        _aead.SealInPlace(payload, idBytes, nonce, tag);
        var entry = new CatalogEntry(id, kind, compressed, _length, payload.Length + Aead.Overhead, rawLength);
        Append(nonce);
        Append(payload);
        Append(tag);
        _entries.Add(entry);
        _ids.Add(id);
        return entry;
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        _file.Write(bytes);
        _hash.AppendData(bytes);
        _length += bytes.Length;
    }

    /// <summary>Writes catalog and trailer, reads the tail back from disk and checks it opens (verify on write), and closes the file.</summary>
    public FinishedPack Finish()
    {
        if (_finished)
        {
            throw new InvalidOperationException("pack already finished");
        }
        _finished = true;
        byte[] catalog = PackCodec.SealCatalog(_entries, _keys.IndexKey);
        var trailer = new PackTrailer(Kind, _entries.Count, _length, catalog.Length, _wrappedKey);
        byte[] tail = new byte[catalog.Length + PackTrailer.Size];
        catalog.CopyTo(tail, 0);
        trailer.Write(tail.AsSpan(catalog.Length));
        Append(tail);
        _file.Flush();

        // Verify on write: read the tail back from the file and parse it as a reader would.
        byte[] check = new byte[tail.Length];
        _file.Position = _length - tail.Length;
        _file.ReadExactly(check);
        var (_, entries) = PackCodec.ParseTail(check, _keys.IndexKey, Path);
        if (entries.Count != _entries.Count)
        {
            throw new CorruptionException($"{Path}: the catalog read back does not match what was written");
        }
        _file.Dispose();
        var id = BlobId.Read(_hash.GetHashAndReset());
        return new FinishedPack(id, Kind, Path, _length, _entries, tail);
    }

    public void Dispose()
    {
        _file.Dispose();
        _hash.Dispose();
        _aead.Dispose();
        if (_sealBuffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_sealBuffer);
            _sealBuffer = [];
        }
        if (!_finished)
        {
            try
            {
                File.Delete(Path);
            }
            catch (IOException)
            {
            }
        }
    }
}
