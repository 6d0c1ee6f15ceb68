using System.Security.Cryptography;
using Strata.Crypto;
using Strata.Index;
using Strata.Packs;
using Strata.Repository;
using Strata.Stores;

namespace Strata.Maintenance;

/// <summary>What one compaction run did.</summary>
/// <param name="Rewritten">Packs whose live blobs were copied; the deletion record names them.</param>
/// <param name="Skipped">Packs left alone, with the reason (damaged, not readable).</param>
public sealed record CompactResult(
    IReadOnlyList<PackPlan> Rewritten,
    IReadOnlyList<(PackPlan Pack, string Reason)> Skipped,
    IReadOnlyList<IndexSegment.PackEntries> NewPacks,
    long BlobsCopied,
    long BytesCopied,
    string? IndexSegment,
    string? DeletionRecord);

/// <summary>
/// Rewrites the live blobs of partly dead packs into new packs, then writes an index segment for the new packs and a
/// deletion record naming the old ones (docs/format.md §16). Deletes nothing: purge does, later. Blobs are re-sealed
/// under each new pack's key without being recompressed. A pack is read whole (one GET), its SHA-256 checked against its
/// name and every copied blob verified, so compaction never copies damage into a new pack.
/// Crash safety: new packs are written pack-then-catalog; until the index segment exists they are found as
/// unsegmented catalogs; until the deletion record exists the old packs stay in use. Either way every snapshot reads.
/// </summary>
public static class Compactor
{
    public static async Task<CompactResult> RunAsync(Repo repo, PrunePlan plan, IReadOnlyList<PackPlan> chosen, Action<string>? log, CancellationToken ct)
    {
        repo.RequireOwner("compacting");
        string staging = PackUpload.StagingDirectory(repo.Store);
        var rewritten = new List<PackPlan>();
        var skipped = new List<(PackPlan, string)>();
        var newPacks = new List<IndexSegment.PackEntries>();
        long blobs = 0, bytes = 0;
        var writers = new Dictionary<PackKind, PackWriter>();

        async Task FlushAsync(PackKind kind)
        {
            if (writers.Remove(kind, out PackWriter? w))
            {
                using (w)
                {
                    if (w.Count > 0)
                    {
                        FinishedPack done = w.Finish();
                        newPacks.Add(await PackUpload.UploadAsync(repo.Store, done, ct).ConfigureAwait(false));
                        log?.Invoke($"wrote {(kind == PackKind.Tree ? "tree" : "data")}/{done.Id} ({done.Entries.Count} blobs, {done.Length} bytes)");
                    }
                }
            }
        }

        foreach (PackPlan p in chosen)
        {
            ct.ThrowIfCancellationRequested();
            if (p.Status != PackStatus.PartlyDead || p.Kind is not (PackKind.Data or PackKind.Tree) || !repo.PackCatalogs.TryGetValue(p.Id, out var catalog))
            {
                skipped.Add((p, "not a partly dead data or tree pack"));
                continue;
            }
            byte[] packBytes;
            try
            {
                packBytes = await repo.ReadWholeAsync(p.Name, ct).ConfigureAwait(false);
            }
            catch (ObjectFrozenException)
            {
                skipped.Add((p, "not readable yet (cold: thaw it first)"));
                continue;
            }
            if (BlobId.Read(SHA256.HashData(packBytes)) != p.Id)
            {
                skipped.Add((p, "its content does not match its name (damaged); run strata check --read-data"));
                continue;
            }
            PackTrailer trailer;
            byte[]? key;
            try
            {
                trailer = PackTrailer.Read(packBytes.AsSpan(packBytes.Length - PackTrailer.Size), p.Name.Path);
                key = KeyWrap.Unwrap(repo.Keys.PrivateKey!, trailer.WrappedKey);
            }
            catch (CorruptionException e)
            {
                skipped.Add((p, e.Message));
                continue;
            }
            if (key is null)
            {
                skipped.Add((p, "the pack key does not open"));
                continue;
            }
            PackKind kind = catalog.Kind;
            var copies = new List<(CatalogEntry Entry, byte[] Payload)>();
            using (var aead = new Aead(key))
            {
                try
                {
                    foreach (CatalogEntry e in catalog.Entries)
                    {
                        if (!IsLiveHere(repo, plan.Live, p.Id, e.Id))
                        {
                            continue;
                        }
                        var (payload, _) = PackCodec.OpenBlobWithPayload(packBytes.AsSpan((int)e.Offset, e.StoredLength), e, aead, repo.Keys, p.Name.Path);
                        copies.Add((e, payload));
                    }
                }
                catch (CorruptionException e)
                {
                    skipped.Add((p, e.Message + "; run strata check --read-data"));
                    continue;
                }
            }
            foreach (var (e, payload) in copies)
            {
                if (!writers.TryGetValue(kind, out PackWriter? w))
                {
                    writers[kind] = w = new PackWriter(Path.Combine(staging, $"pack-{Guid.NewGuid():N}"), kind, repo.Keys);
                }
                w.Add(e.Id, e.Kind, payload, e.Compressed, e.RawLength);
                blobs++;
                bytes += e.StoredLength;
                long target = kind == PackKind.Tree ? repo.Config.Packs.WarmTargetSize : repo.Config.Packs.ColdTargetSize;
                if (w.Length >= target)
                {
                    await FlushAsync(kind).ConfigureAwait(false);
                }
            }
            rewritten.Add(p);
            log?.Invoke($"copied {copies.Count} live blobs of {p.Name.Path}");
        }
        foreach (PackKind k in writers.Keys.ToList())
        {
            await FlushAsync(k).ConfigureAwait(false);
        }

        string? segment = null, record = null;
        if (newPacks.Count > 0)
        {
            segment = await repo.WriteIndexSegmentAsync(newPacks, ct).ConfigureAwait(false);
        }
        if (rewritten.Count > 0)
        {
            record = await DeletionRecords.WriteAsync(repo, new DeletionRecord
            {
                Time = repo.Clock.GetUtcNow(),
                Reason = DeletionReason.Compact,
                Packs = [.. rewritten.Select(p => p.Id.ToString())],
                Replacements = [.. newPacks.Select(p => p.Id.ToString())],
                Host = Environment.MachineName,
            }, ct).ConfigureAwait(false);
        }
        return new CompactResult(rewritten, skipped, newPacks, blobs, bytes, segment, record);
    }

    /// <summary>The blob is used by a snapshot and this pack is the copy the index reads (the plan's rule for live bytes).</summary>
    internal static bool IsLiveHere(Repo repo, LiveSet live, BlobId pack, BlobId blob) =>
        live.Blobs.Contains(blob) && repo.Index.TryGet(blob, out IndexEntry ie) && repo.Index.PackOf(ie).Id == pack;
}
