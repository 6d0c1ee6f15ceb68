using Strata.Index;
using Strata.Stores;

namespace Strata.Packs;

/// <summary>How every writer (backup, compact, recover) stores a finished pack: the pack first, then its warm catalog copy.</summary>
public static class PackUpload
{
    /// <summary>Where packs are built: a folder the store can adopt files from without copying, else a temporary folder.</summary>
    public static string StagingDirectory(IStore store)
    {
        string dir = store is IStagingStore s ? s.StagingDirectory : Path.Combine(Path.GetTempPath(), "strata-staging");
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>
    /// Stores the pack (adopting the local file when the store can), deletes the local file, then stores the catalog copy.
    /// A pack is always written before its catalog, so a catalog never names a pack that does not exist (docs/format.md §14).
    /// </summary>
    public static async Task<IndexSegment.PackEntries> UploadAsync(IStore store, FinishedPack pack, CancellationToken ct)
    {
        var name = new ObjectName(pack.Kind == PackKind.Tree ? ObjectKind.Tree : ObjectKind.Data, pack.Id.ToString());
        if (store is IStagingStore staging)
        {
            await staging.AdoptAsync(name, pack.Path, ct).ConfigureAwait(false);
        }
        else
        {
            await using (var fs = new FileStream(pack.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous))
            {
                await store.WriteAsync(name, fs, ct).ConfigureAwait(false);
            }
            File.Delete(pack.Path);
        }
        using (var tail = new MemoryStream(pack.Tail, writable: false))
        {
            await store.WriteAsync(new ObjectName(ObjectKind.Catalogs, pack.Id.ToString()), tail, ct).ConfigureAwait(false);
        }
        return new IndexSegment.PackEntries(pack.Id, pack.Kind, pack.Length, pack.Entries);
    }
}
