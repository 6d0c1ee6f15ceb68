using FsCheck;
using FsCheck.Fluent;
using Strata.Chunking;

namespace Strata.Core.Tests.Chunking;

public sealed class FastCdcTests
{
    private static readonly byte[] Key = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
    private static readonly FastCdc Small = new(Key, 256, 1024, 8192);

    private static List<int> Cuts(FastCdc c, byte[] data)
    {
        var cuts = new List<int>();
        int at = 0;
        while (at < data.Length)
        {
            int n = c.NextCut(data.AsSpan(at, Math.Min(c.MaxSize, data.Length - at)));
            cuts.Add(n);
            at += n;
        }
        return cuts;
    }

    [Fact]
    public void Chunks_respect_min_and_max_and_cover_the_input()
    {
        Prop.ForAll(Gen.Choose(0, 200_000).ToArbitrary(), Gen.Choose(1, int.MaxValue).ToArbitrary(), (len, seed) =>
        {
            byte[] data = new byte[len];
            new Random(seed).NextBytes(data);
            var cuts = Cuts(Small, data);
            return cuts.Sum() == len
                && cuts.Take(Math.Max(0, cuts.Count - 1)).All(n => n >= Small.MinSize && n <= Small.MaxSize)
                && cuts.All(n => n > 0 && n <= Small.MaxSize);
        }).QuickCheckThrowOnFailure();
    }

    [Fact]
    public void An_insertion_only_changes_the_chunks_around_it()
    {
        byte[] data = new byte[400_000];
        new Random(1).NextBytes(data);
        byte[] edited = [.. data.AsSpan(0, 200_000), .. "inserted text"u8, .. data.AsSpan(200_000)];
        var a = ChunkSet(data);
        var b = ChunkSet(edited);
        int shared = a.Intersect(b).Count();
        Assert.True(shared >= a.Count - 3, $"only {shared} of {a.Count} chunks survived an insertion");
    }

    private static HashSet<string> ChunkSet(byte[] data)
    {
        var set = new HashSet<string>();
        int at = 0;
        foreach (int n in Cuts(Small, data))
        {
            set.Add(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(data.AsSpan(at, n))));
            at += n;
        }
        return set;
    }

    [Fact]
    public void The_key_decides_the_boundaries()
    {
        byte[] data = new byte[200_000];
        new Random(2).NextBytes(data);
        var other = new FastCdc(Enumerable.Repeat((byte)9, 32).ToArray(), 256, 1024, 8192);
        Assert.NotEqual(Cuts(Small, data), Cuts(other, data));
    }

    [Fact]
    public void Default_parameters_average_near_one_MiB()
    {
        var c = new FastCdc(Key, 512 * 1024, 1024 * 1024, 8 * 1024 * 1024);
        byte[] data = new byte[64 << 20];
        new Random(4).NextBytes(data);
        var cuts = Cuts(c, data);
        double avg = cuts.Average();
        Assert.InRange(avg, 700_000, 1_600_000);
    }
}
