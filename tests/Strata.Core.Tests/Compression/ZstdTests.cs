using Strata.Compression;

namespace Strata.Core.Tests.Compression;

public sealed class ZstdTests
{
    private static byte[] Text(int n)
    {
        var rng = new Random(3);
        string[] words = ["backup", "restore", "glacier", "pack", "chunk", "the", "of", "and"];
        var sb = new System.Text.StringBuilder();
        while (sb.Length < n)
        {
            sb.Append(words[rng.Next(words.Length)]).Append(' ');
        }
        return System.Text.Encoding.ASCII.GetBytes(sb.ToString()[..n]);
    }

    [Fact]
    public void Native_libzstd_is_used_here()
    {
        Assert.True(NativeZstd.Available, "libzstd.so.1 should load on Debian");
    }

    [Fact]
    public void Native_frames_decompress_with_the_managed_port_and_back()
    {
        byte[] data = Text(300_000);
        using var native = new ZstdCompressor(3);
        byte[] frame = native.Compress(data);
        Assert.True(frame.Length < data.Length / 2);
        byte[] viaManaged = new byte[data.Length];
        using (var d = new ZstdSharp.Decompressor())
        {
            Assert.Equal(data.Length, d.Unwrap(frame, viaManaged));
        }
        Assert.Equal(data, viaManaged);

        using var managed = new ZstdSharp.Compressor(3);
        byte[] managedFrame = managed.Wrap(data).ToArray();
        byte[] back = new byte[data.Length];
        Assert.Equal(data.Length, new ZstdDecompressor().Decompress(managedFrame, back));
        Assert.Equal(data, back);
    }

    [Fact]
    public void Damaged_input_is_an_InvalidDataException_not_a_crash()
    {
        byte[] frame = new ZstdCompressor(3).Compress(Text(10_000));
        frame[frame.Length / 2] ^= 0xff;
        frame[5] ^= 0xff;
        Assert.Throws<InvalidDataException>(() => new ZstdDecompressor().Decompress(frame, new byte[10_000]));
    }

    [Fact]
    public void TryCompress_into_a_buffer_the_size_of_the_data_fits_text_and_refuses_random_bytes()
    {
        byte[] text = Text(200_000);
        byte[] random = new byte[200_000];
        new Random(9).NextBytes(random);
        using var z = new ZstdCompressor(3);
        byte[] output = new byte[text.Length];
        int n = z.TryCompress(text, output);
        Assert.InRange(n, 1, text.Length / 2);
        byte[] back = new byte[text.Length];
        Assert.Equal(text.Length, new ZstdDecompressor().Decompress(output.AsSpan(0, n), back));
        Assert.Equal(text, back);
        Assert.Equal(-1, z.TryCompress(random, new byte[random.Length]));
        Assert.True(z.TryCompress(random, new byte[ZstdCompressor.Bound(random.Length)]) > random.Length);
    }
}
