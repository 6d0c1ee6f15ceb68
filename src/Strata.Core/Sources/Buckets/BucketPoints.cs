using System.Security.Cryptography;
using Strata.Crypto;
using Strata.Repository;
using Strata.Stores;

namespace Strata.Sources.Buckets;

/// <summary>A restoration point as listed: its object, size and header.</summary>
public sealed record BucketPointRef(string Id, long Length, long FramesEnd, BucketPointHeader Header)
{
    public string ShortId => Id[..8];
    public ObjectName Name => new(ObjectKind.Points, Id);
}

/// <summary>The points/ objects of a repository: write, list, find, read, delete. Warm objects only.</summary>
public static class BucketPoints
{
    /// <summary>How many bytes of a point's end one read fetches: enough for any header.</summary>
    private const int TailRead = 64 * 1024;

    /// <summary>
    /// Writes a point from entries in listing order, through a temporary file (deleted on close) so memory stays
    /// bounded for any bucket size. Returns the point as listed.
    /// </summary>
    public static async Task<BucketPointRef> WriteAsync(Repo repo, BucketPointHeader header, IAsyncEnumerable<BucketEntry> entries, CancellationToken ct)
    {
        string tmp = Path.Combine(Path.GetTempPath(), $"strata-point-{Guid.NewGuid():N}");
        await using var file = new FileStream(tmp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose | FileOptions.Asynchronous);
        BucketPointHeader written;
        using (var writer = new BucketPointWriter(file, repo.Keys))
        {
            await foreach (BucketEntry e in entries.WithCancellation(ct).ConfigureAwait(false))
            {
                writer.Add(e);
            }
            written = header with { Keys = writer.Keys, Bytes = writer.Bytes };
            writer.Finish(header, repo.Keys);
        }
        file.Position = 0;
        string id = Convert.ToHexStringLower(await SHA256.HashDataAsync(file, ct).ConfigureAwait(false));
        file.Position = 0;
        long length = file.Length;
        var name = new ObjectName(ObjectKind.Points, id);
        await repo.Store.WriteAsync(name, file, ct).ConfigureAwait(false);
        // Read the header back from the store: what was written must open (verify on write).
        BucketPointRef stored = await OpenAsync(repo, name, length, ct).ConfigureAwait(false);
        if (stored.Header.Keys != written.Keys || stored.Header.Bytes != written.Bytes)
        {
            throw new CorruptionException($"{name.Path}: the stored point does not say what was written");
        }
        return stored;
    }

    private static async Task<BucketPointRef> OpenAsync(Repo repo, ObjectName name, long length, CancellationToken ct)
    {
        int n = (int)Math.Min(length, TailRead);
        byte[] tail = new byte[n];
        await repo.Store.ReadAsync(name, length - n, tail, ct).ConfigureAwait(false);
        BucketPointHeader h = BucketPointCodec.OpenHeader(tail, length, repo.Keys, name.Path, out long framesEnd);
        return new BucketPointRef(name.Name, length, framesEnd, h);
    }

    /// <summary>Every point, oldest first. Readable with a writer key. A damaged point is reported in <paramref name="damaged"/> (if given) and skipped.</summary>
    public static async Task<List<BucketPointRef>> ListAsync(Repo repo, CancellationToken ct, List<string>? damaged = null)
    {
        var list = new List<BucketPointRef>();
        await foreach (ObjectInfo o in repo.Store.ListAsync(ObjectKind.Points, ct).ConfigureAwait(false))
        {
            try
            {
                list.Add(await OpenAsync(repo, o.Name, o.Length, ct).ConfigureAwait(false));
            }
            catch (CorruptionException e) when (damaged is not null)
            {
                damaged.Add(e.Message);
            }
        }
        list.Sort((a, b) => a.Header.Time != b.Header.Time ? a.Header.Time.CompareTo(b.Header.Time) : string.CompareOrdinal(a.Id, b.Id));
        return list;
    }

    /// <summary>The point named by a unique id prefix, or "latest" (the newest point, of <paramref name="location"/> if given).</summary>
    public static async Task<BucketPointRef> FindAsync(Repo repo, string spec, CancellationToken ct, string? location = null)
    {
        var all = await ListAsync(repo, ct).ConfigureAwait(false);
        if (location is not null)
        {
            all = all.Where(p => p.Header.Location == location).ToList();
        }
        if (all.Count == 0)
        {
            throw new UserInputException(location is null ? $"{repo.Location} has no bucket restoration points yet (take one with 'strata bucket snapshot')" : $"{repo.Location} has no restoration points of {location}");
        }
        if (spec == "latest")
        {
            return all[^1];
        }
        spec = spec.Trim().ToLowerInvariant();
        var matches = all.Where(p => p.Id.StartsWith(spec, StringComparison.Ordinal)).ToList();
        return matches.Count switch
        {
            1 => matches[0],
            0 => throw new UserInputException($"no restoration point '{spec}' in {repo.Location}; 'strata bucket points' lists them"),
            _ => throw new UserInputException($"restoration point prefix '{spec}' is ambiguous: it matches {string.Join(", ", matches.Select(m => m.ShortId))}"),
        };
    }

    /// <summary>The point's entries in recorded (listing) order. Needs the owner key. <paramref name="hash"/>, if given, gets every byte read.</summary>
    public static IAsyncEnumerable<BucketEntry> ReadEntriesAsync(Repo repo, BucketPointRef point, CancellationToken ct, IncrementalHash? hash = null)
    {
        repo.RequireOwner("reading a bucket restoration point");
        return BucketPointCodec.ReadEntriesAsync(repo.Store, point.Name, point.FramesEnd, repo.Keys, ct, hash);
    }

    public static Task DeleteAsync(Repo repo, BucketPointRef point, CancellationToken ct) => repo.Store.DeleteAsync(point.Name, ct);

    /// <summary>
    /// The points/ object named by a unique id prefix, whether its header opens or not (a damaged point is what
    /// <c>bucket forget</c> is for): its name, and the opened point, or null and why it does not open.
    /// </summary>
    public static async Task<(ObjectName Name, BucketPointRef? Point, string? Damage)> FindObjectAsync(Repo repo, string spec, CancellationToken ct)
    {
        spec = spec.Trim().ToLowerInvariant();
        if (spec.Length == 0 || !spec.All(char.IsAsciiHexDigitLower))
        {
            throw new UserInputException($"'{spec}' is not a restoration point id (hex digits; 'strata bucket points' lists them, 'strata check' names damaged ones)");
        }
        var matches = new List<ObjectInfo>();
        await foreach (ObjectInfo o in repo.Store.ListAsync(ObjectKind.Points, ct).ConfigureAwait(false))
        {
            if (o.Name.Name.StartsWith(spec, StringComparison.Ordinal))
            {
                matches.Add(o);
            }
        }
        if (matches.Count != 1)
        {
            throw new UserInputException(matches.Count == 0
                ? $"no restoration point '{spec}' in {repo.Location}; 'strata bucket points' lists them, 'strata check' names damaged ones"
                : $"restoration point prefix '{spec}' is ambiguous: it matches {string.Join(", ", matches.Select(m => m.Name.Name[..Math.Min(8, m.Name.Name.Length)]))}");
        }
        ObjectInfo found = matches[0];
        try
        {
            return (found.Name, await OpenAsync(repo, found.Name, found.Length, ct).ConfigureAwait(false), null);
        }
        catch (CorruptionException e)
        {
            return (found.Name, null, e.Message);
        }
    }
}
