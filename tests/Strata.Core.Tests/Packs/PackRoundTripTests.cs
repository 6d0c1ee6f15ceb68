using FsCheck;
using FsCheck.Fluent;
using Strata.Compression;
using Strata.Crypto;
using Strata.Packs;
using Strata.Repository;

namespace Strata.Core.Tests.Packs;

public sealed class PackRoundTripTests
{
    private static readonly MasterKeys Keys = MasterKeys.CreateNew();

    [Fact]
    public void Every_blob_comes_back_from_a_finished_pack()
    {
        Prop.ForAll(Gen.ListOf(Gen.Choose(0, 50_000)).ToArbitrary(), sizes =>
        {
            string path = Path.Combine(Path.GetTempPath(), "strata-pack-" + Guid.NewGuid().ToString("N"));
            try
            {
                var rng = new Random(sizes.Count);
                var blobs = sizes.Select(n =>
                {
                    byte[] b = new byte[n];
                    rng.NextBytes(b);
                    if (n % 2 == 0)
                    {
                        Array.Fill(b, (byte)'a', 0, n / 2); // some compress, some do not
                    }
                    return b;
                }).ToList();
                var ids = new List<BlobId>();
                FinishedPack done;
                using (var w = new PackWriter(path, PackKind.Data, Keys))
                {
                    using var z = new ZstdCompressor(3);
                    foreach (byte[] b in blobs)
                    {
                        BlobId id = Keys.IdOf(b);
                        ids.Add(id);
                        byte[] c = z.Compress(b);
                        bool useC = c.Length < b.Length;
                        if (ids.Count % 2 == 0)
                        {
                            w.Add(id, BlobKind.Data, useC ? c : b, useC, b.Length);
                        }
                        else
                        {
                            // The backup's path: sealed where it lies, in a buffer of the caller's (a copy here, so b stays the plaintext).
                            byte[] payload = (useC ? c : b).ToArray();
                            w.AddInPlace(id, BlobKind.Data, payload, useC, b.Length);
                        }
                    }
                    done = w.Finish();
                }
                byte[] pack = File.ReadAllBytes(path);
                if (BlobId.Hash(pack) != done.Id)
                {
                    return false;
                }
                var (trailer, entries) = PackCodec.ParseTail(pack.AsSpan((int)(pack.Length - done.Tail.Length)), Keys.IndexKey, "test");
                byte[] key = KeyWrap.Unwrap(Keys.PrivateKey!, trailer.WrappedKey)!;
                using var aead = new Aead(key);
                for (int i = 0; i < blobs.Count; i++)
                {
                    CatalogEntry e = entries[i];
                    byte[] back = PackCodec.OpenBlob(pack.AsSpan((int)e.Offset, e.StoredLength), e, aead, Keys, "test");
                    if (e.Id != ids[i] || !back.AsSpan().SequenceEqual(blobs[i]))
                    {
                        return false;
                    }
                    // The restore's path: decrypted in place, decompressed into a buffer of its own.
                    byte[] sealedCopy = pack.AsSpan((int)e.Offset, e.StoredLength).ToArray();
                    byte[] plain = new byte[e.RawLength + 7];
                    int n = PackCodec.OpenBlobInPlace(sealedCopy, e, aead, Keys, "test", plain);
                    ReadOnlySpan<byte> inPlace = e.Compressed ? plain.AsSpan(0, n) : sealedCopy.AsSpan(Aead.NonceSize, n);
                    if (!inPlace.SequenceEqual(blobs[i]))
                    {
                        return false;
                    }
                }
                return entries.Count == blobs.Count;
            }
            finally
            {
                File.Delete(path);
            }
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void A_flipped_bit_is_detected_and_named()
    {
        string path = Path.Combine(Path.GetTempPath(), "strata-pack-" + Guid.NewGuid().ToString("N"));
        byte[] blob = new byte[10_000];
        new Random(5).NextBytes(blob);
        FinishedPack done;
        using (var w = new PackWriter(path, PackKind.Data, Keys))
        {
            w.Add(Keys.IdOf(blob), BlobKind.Data, blob, false, blob.Length);
            done = w.Finish();
        }
        byte[] pack = File.ReadAllBytes(path);
        File.Delete(path);
        pack[100] ^= 1;
        var (trailer, entries) = PackCodec.ParseTail(pack.AsSpan((int)(pack.Length - done.Tail.Length)), Keys.IndexKey, "test");
        using var aead = new Aead(KeyWrap.Unwrap(Keys.PrivateKey!, trailer.WrappedKey)!);
        var e = Assert.Throws<CorruptionException>(() => PackCodec.OpenBlob(pack.AsSpan((int)entries[0].Offset, entries[0].StoredLength), entries[0], aead, Keys, "data/xyz"));
        Assert.Contains("data/xyz", e.Message, StringComparison.Ordinal);
        byte[] sealedCopy = pack.AsSpan((int)entries[0].Offset, entries[0].StoredLength).ToArray();
        var inPlace = Assert.Throws<CorruptionException>(() => PackCodec.OpenBlobInPlace(sealedCopy, entries[0], aead, Keys, "data/xyz", new byte[blob.Length]));
        Assert.Contains("fails authentication", inPlace.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_truncated_pack_has_no_trailer()
    {
        var e = Assert.Throws<CorruptionException>(() => PackCodec.ParseTail(new byte[200], Keys.IndexKey, "data/abc"));
        Assert.Contains("data/abc", e.Message, StringComparison.Ordinal);
    }
}
