using System.Text;

namespace Strata.Benchmarks;

public enum DataKind
{
    /// <summary>Uniform random bytes: incompressible, like media and already-compressed archives.</summary>
    Random,
    /// <summary>Generated English-like prose and log lines: zstd level 3 shrinks it to roughly a third.</summary>
    Text,
}

/// <summary>
/// The fixed inputs every benchmark processes: one <see cref="Size"/> buffer per kind, generated from a fixed
/// seed so every run (and every machine) measures the same bytes. Built once per process and kept: 64 MiB each.
/// </summary>
internal static class TestData
{
    public const int Size = 64 << 20;
    public const int ChunkSize = 1 << 20;
    public const int Chunks = Size / ChunkSize;

    private static byte[]? s_random;
    private static byte[]? s_text;

    public static byte[] Get(DataKind kind) => kind switch
    {
        DataKind.Random => s_random ??= MakeRandom(),
        DataKind.Text => s_text ??= MakeText(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>The 1 MiB slice <paramref name="i"/> of a buffer: the unit hashing, sealing and compression see.</summary>
    public static ReadOnlySpan<byte> Chunk(byte[] data, int i) => data.AsSpan(i * ChunkSize, ChunkSize);

    /// <summary>A fixed 32-byte key, so chunk boundaries (and so chunk counts) are the same on every run.</summary>
    public static byte[] FixedKey(byte salt)
    {
        byte[] key = new byte[32];
        for (int i = 0; i < key.Length; i++)
        {
            key[i] = (byte)((i * 37) + salt);
        }
        return key;
    }

    private static byte[] MakeRandom()
    {
        byte[] b = new byte[Size];
        new Random(20240601).NextBytes(b);
        return b;
    }

    private static readonly string[] Words =
    [
        "the", "of", "and", "to", "a", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on", "not",
        "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "had", "they", "you", "were",
        "their", "one", "all", "we", "can", "her", "has", "there", "been", "if", "more", "when", "will", "would",
        "who", "so", "no", "she", "other", "its", "may", "these", "them", "than", "some", "him", "time", "into",
        "only", "do", "could", "new", "about", "two", "then", "first", "also", "after", "any", "like", "should",
        "what", "over", "such", "most", "our", "between", "where", "before", "through", "years", "must", "state",
        "people", "because", "those", "each", "under", "being", "while", "without", "system", "number", "water",
        "world", "during", "general", "however", "government", "between", "against", "public", "national",
        "backup", "snapshot", "repository", "archive", "restore", "chunk", "encrypted", "storage", "bucket",
        "deduplicated", "compression", "retention", "checksum", "directory", "filesystem", "metadata", "network",
        "configuration", "performance", "throughput", "latency", "transaction", "database", "operation", "request",
        "response", "service", "customer", "account", "invoice", "payment", "shipment", "warehouse", "inventory",
        "mountain", "river", "village", "harbour", "kingdom", "century", "library", "museum", "language", "history",
    ];

    private static readonly string[] Levels = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"];

    /// <summary>
    /// Prose paragraphs interleaved with timestamped log lines. Word choice is skewed (squared uniform index),
    /// as word frequencies in real text are, so zstd finds both literal redundancy and repeated phrases.
    /// </summary>
    private static byte[] MakeText()
    {
        var rng = new Random(19700101);
        var sb = new StringBuilder(Size + 4096);
        var t = new DateTime(2024, 6, 1, 0, 0, 0, DateTimeKind.Utc);
        while (sb.Length < Size)
        {
            if (rng.Next(3) == 0)
            {
                int lines = 1 + rng.Next(12);
                for (int l = 0; l < lines; l++)
                {
                    t = t.AddMilliseconds(rng.Next(5000));
                    sb.Append(t.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture))
                        .Append(' ').Append(Levels[rng.Next(Levels.Length)])
                        .Append(" [worker-").Append(rng.Next(16)).Append("] ")
                        .Append(Word(rng)).Append(' ').Append(Word(rng)).Append(" id=").Append(rng.Next(1_000_000))
                        .Append(" bytes=").Append(rng.Next(1 << 24)).Append(" elapsed=").Append(rng.Next(10_000)).Append("ms\n");
                }
            }
            else
            {
                int sentences = 2 + rng.Next(6);
                int column = 0;
                for (int s = 0; s < sentences; s++)
                {
                    int words = 5 + rng.Next(18);
                    for (int w = 0; w < words; w++)
                    {
                        string word = Word(rng);
                        if (w == 0)
                        {
                            word = char.ToUpperInvariant(word[0]) + word[1..];
                        }
                        sb.Append(word);
                        column += word.Length + 1;
                        if (w == words - 1)
                        {
                            sb.Append('.');
                        }
                        else if (rng.Next(9) == 0)
                        {
                            sb.Append(',');
                        }
                        if (column > 72)
                        {
                            sb.Append('\n');
                            column = 0;
                        }
                        else
                        {
                            sb.Append(' ');
                        }
                    }
                }
                sb.Append("\n\n");
            }
        }
        byte[] b = new byte[Size];
        int n = Encoding.ASCII.GetBytes(sb.ToString(0, Size), b);
        return n == Size ? b : throw new InvalidOperationException("generated text is not ASCII");
    }

    private static string Word(Random rng)
    {
        double u = rng.NextDouble();
        return Words[(int)(u * u * Words.Length)];
    }
}
