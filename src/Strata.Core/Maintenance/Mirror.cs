using System.Security.Cryptography;
using Strata.Repository;
using Strata.Stores;

namespace Strata.Maintenance;

/// <summary>What one mirror run did.</summary>
/// <param name="Planned">Objects the target lacked when the run started.</param>
/// <param name="Copied">Objects written to the target.</param>
/// <param name="AlreadyThere">Objects the target had (same name and size).</param>
/// <param name="Vanished">Objects listed in the source but gone when read (deleted by a purge meanwhile).</param>
/// <param name="Problems">Objects not copied, with why: content that does not match its name (damage is not spread), or a target object of another size.</param>
public sealed record MirrorResult(int Planned, int Copied, long BytesCopied, int AlreadyThere, int Vanished, IReadOnlyList<string> Problems);

/// <summary>
/// Object-level mirror of a repository into another store: every object the target lacks is copied as it is
/// (same keys, same names; no passphrase needed, nothing is decrypted). Objects are immutable and create-only, so a
/// run can be repeated and an interrupted run resumes by copying what is still missing. Kinds are copied in an order
/// that keeps the target a valid repository at every moment, as a backup writes: data and tree packs, catalogs,
/// index, deletion records, snapshots, bucket points, then keys and config (a new mirror opens as a repository only once all is
/// there). Locks and thaw jobs are not copied: they describe runs on the source. Nothing is ever deleted in the target.
/// Objects named by the SHA-256 of their bytes are checked while copying; a mismatch is reported, not copied.
/// Memory: the two listings (about 100 bytes per object) and one spool buffer per parallel copy.
/// </summary>
public sealed class Mirror
{
    /// <summary>The order of kinds: what others point to comes first.</summary>
    public static readonly IReadOnlyList<ObjectKind> Order =
        [ObjectKind.Data, ObjectKind.Tree, ObjectKind.Catalogs, ObjectKind.Index, ObjectKind.Deletions, ObjectKind.Snapshots, ObjectKind.Points, ObjectKind.Keys, ObjectKind.Config];

    /// <summary>Kinds that describe runs on the source, not backups: never mirrored. Every kind is in exactly one of the two lists (tested).</summary>
    public static readonly IReadOnlyList<ObjectKind> NotMirrored = [ObjectKind.Locks, ObjectKind.Thaws];

    private const int InMemoryLimit = 8 << 20;
    private readonly IStore _source;
    private readonly IStore _target;
    private long _copied, _bytes, _planned;

    public Mirror(IStore source, IStore target)
    {
        _source = source;
        _target = target;
    }

    /// <summary>How many objects are copied at once.</summary>
    public int Parallelism { get; init; } = 4;

    /// <summary>Told after each object is copied (from several threads).</summary>
    public Action<ObjectInfo>? Copied { get; init; }

    /// <summary>Told once the plan is known: objects and bytes to copy.</summary>
    public Action<int, long>? Planned { get; init; }

    /// <summary>Live counters for progress reports while a run goes on.</summary>
    public long ObjectsCopied => Interlocked.Read(ref _copied);
    public long BytesCopied => Interlocked.Read(ref _bytes);
    public long ObjectsPlanned => Interlocked.Read(ref _planned);

    /// <summary>Whether an object's name is the SHA-256 of its bytes (and so can be checked in transit).</summary>
    public static bool IsContentAddressed(ObjectKind kind) =>
        kind is ObjectKind.Data or ObjectKind.Tree or ObjectKind.Index or ObjectKind.Snapshots or ObjectKind.Keys or ObjectKind.Thaws or ObjectKind.Points;

    public async Task<MirrorResult> RunAsync(CancellationToken ct)
    {
        if (await _source.StatAsync(ObjectName.Config, ct).ConfigureAwait(false) is null)
        {
            throw new RepositoryNotFoundException(_source.Location);
        }
        var plan = new List<List<ObjectInfo>>();
        int already = 0;
        var problems = new List<string>();
        // Listed in reverse order: a snapshot listed here had its packs and index written before it, so they are
        // listed too, even while a backup runs; copied in order, so the target never points at what it lacks.
        foreach (ObjectKind kind in Order.Reverse())
        {
            var have = new Dictionary<string, long>(StringComparer.Ordinal);
            if (kind == ObjectKind.Config)
            {
                if (await _target.StatAsync(ObjectName.Config, ct).ConfigureAwait(false) is { } t)
                {
                    have["config"] = t.Length;
                }
            }
            else
            {
                await foreach (ObjectInfo o in _target.ListAsync(kind, ct).ConfigureAwait(false))
                {
                    have[o.Name.Name] = o.Length;
                }
            }
            var missing = new List<ObjectInfo>();
            await foreach (ObjectInfo o in ListSourceAsync(kind, ct).ConfigureAwait(false))
            {
                if (!have.TryGetValue(o.Name.Name, out long length))
                {
                    missing.Add(o);
                }
                else if (length == o.Length)
                {
                    already++;
                }
                else
                {
                    problems.Add($"{o.Name.Path}: the mirror holds {length} bytes, the source {o.Length}; objects are never overwritten, so it is left as it is (run strata check on both)");
                }
            }
            plan.Insert(0, missing);
        }
        int planned = plan.Sum(p => p.Count);
        Interlocked.Exchange(ref _planned, planned);
        Planned?.Invoke(planned, plan.Sum(p => p.Sum(o => o.Length)));

        int vanished = 0;
        foreach (List<ObjectInfo> kindObjects in plan)
        {
            // One kind at a time: the next kind may point into this one.
            await Parallel.ForEachAsync(kindObjects, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = ct }, async (o, c) =>
            {
                string? problem = await CopyAsync(o, c).ConfigureAwait(false);
                if (problem == Gone)
                {
                    Interlocked.Increment(ref vanished);
                }
                else if (problem is not null)
                {
                    lock (problems)
                    {
                        problems.Add(problem);
                    }
                }
                else
                {
                    Interlocked.Increment(ref _copied);
                    Interlocked.Add(ref _bytes, o.Length);
                    Copied?.Invoke(o);
                }
            }).ConfigureAwait(false);
        }
        return new MirrorResult(planned, (int)ObjectsCopied, BytesCopied, already, vanished, problems);
    }

    private async IAsyncEnumerable<ObjectInfo> ListSourceAsync(ObjectKind kind, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        if (kind == ObjectKind.Config)
        {
            if (await _source.StatAsync(ObjectName.Config, ct).ConfigureAwait(false) is { } c)
            {
                yield return c;
            }
            yield break;
        }
        await foreach (ObjectInfo o in _source.ListAsync(kind, ct).ConfigureAwait(false))
        {
            yield return o;
        }
    }

    private const string Gone = "\0gone";

    /// <summary>Copies one object through memory (small) or a temporary file (large); null on success, else why not.</summary>
    private async Task<string?> CopyAsync(ObjectInfo o, CancellationToken ct)
    {
        Stream content;
        if (o.Length <= InMemoryLimit)
        {
            content = new MemoryStream((int)o.Length);
        }
        else
        {
            string spool = Path.Combine(Path.GetTempPath(), "strata-mirror-" + Guid.NewGuid().ToString("N"));
            content = new FileStream(spool, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose | FileOptions.Asynchronous);
        }
        await using (content.ConfigureAwait(false))
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            byte[] buffer = new byte[(int)Math.Min(Math.Max(o.Length, 1), 4 << 20)];
            long at = 0;
            try
            {
                while (at < o.Length)
                {
                    int n = (int)Math.Min(buffer.Length, o.Length - at);
                    await _source.ReadAsync(o.Name, at, buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                    hash.AppendData(buffer, 0, n);
                    await content.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                    at += n;
                }
            }
            catch (ObjectNotFoundException)
            {
                return Gone;
            }
            catch (ObjectFrozenException e)
            {
                return $"{o.Name.Path}: {e.Message}; not copied (mirror from the warm copy, or thaw first)";
            }
            if (IsContentAddressed(o.Name.Kind) && Convert.ToHexStringLower(hash.GetHashAndReset()) != o.Name.Name)
            {
                return $"{o.Name.Path} in {_source.Location}: its content does not match its name (damaged); not copied, run strata check";
            }
            content.Position = 0;
            try
            {
                await _target.WriteAsync(o.Name, content, ct).ConfigureAwait(false);
            }
            catch (ObjectExistsException)
            {
                return $"{o.Name.Path}: the mirror has another object of that name (written meanwhile); left as it is";
            }
        }
        return null;
    }
}
