using System.IO.Compression;
using System.Text;

namespace Strata.Sync;

/// <summary>What the target holds of one file, as of the last sync: enough to skip a file without reading it.</summary>
public sealed record SyncManifestEntry(long Size, long MTimeNs, string Sha256);

/// <summary>
/// The manifest a sync keeps in its target (<see cref="ISyncTarget.ManifestPath"/>): one line per file,
/// "sha256 TAB size TAB mtime-ns TAB path", gzip-compressed, sorted by path. Memory: about 150 bytes per file.
/// A manifest that does not parse is treated as missing (everything is compared again), never as an error.
/// </summary>
public sealed class SyncManifest
{
    private const string Magic = "strata-sync-manifest 1";

    public SortedDictionary<string, SyncManifestEntry> Files { get; } = new(StringComparer.Ordinal);

    public byte[] ToBytes()
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true))
        using (var w = new StreamWriter(gz, new UTF8Encoding(false)) { NewLine = "\n" })
        {
            w.WriteLine(Magic);
            foreach (var (path, e) in Files)
            {
                w.WriteLine($"{e.Sha256}\t{e.Size}\t{e.MTimeNs}\t{Escape(path)}");
            }
        }
        return ms.ToArray();
    }

    // A file name may hold a newline or a backslash; nothing else needs escaping in the last field of a line.
    private static string Escape(string path) => path.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string Unescape(string s)
    {
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 1 < s.Length)
            {
                sb.Append(s[++i] == 'n' ? '\n' : s[i]);
            }
            else
            {
                sb.Append(s[i]);
            }
        }
        return sb.ToString();
    }

    /// <summary>The manifest in <paramref name="bytes"/>, or null when it is damaged or of another version.</summary>
    public static SyncManifest? TryParse(byte[] bytes)
    {
        try
        {
            var m = new SyncManifest();
            using var gz = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
            using var r = new StreamReader(gz, Encoding.UTF8);
            if (r.ReadLine() != Magic)
            {
                return null;
            }
            while (r.ReadLine() is { } line)
            {
                string[] f = line.Split('\t', 4);
                if (f.Length != 4 || !long.TryParse(f[1], out long size) || !long.TryParse(f[2], out long mtime))
                {
                    return null;
                }
                m.Files[Unescape(f[3])] = new SyncManifestEntry(size, mtime, f[0]);
            }
            return m;
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }
}
