using System.Security.Cryptography;
using Strata.Crypto;
using Strata.Repository;
using Strata.Stores;

namespace Strata.Archiver;

/// <summary>
/// "Store it all in S3 until the backup is good, then move the band into deep archive": after a backup's snapshot
/// is written, every staged data pack that the index knows is read back, its SHA-256 checked against its name,
/// and moved to the cold class. A pack that fails the check stays staged and is reported. Also settles packs
/// left staged by an interrupted earlier run.
/// </summary>
public static class StageSettler
{
    public sealed record Result(int Moved, IReadOnlyList<string> Failed);

    public static async Task<Result> SettleAsync(Repo repo, CancellationToken ct)
    {
        IColdTransition? transition = repo.Store.Find<IColdTransition>();
        if (transition is null || !transition.StagesWarm)
        {
            return new Result(0, []);
        }
        var staged = new List<ObjectInfo>();
        await foreach (ObjectInfo o in repo.Store.ListAsync(ObjectKind.Data, ct).ConfigureAwait(false))
        {
            if (transition.IsStaged(o) && BlobId.TryParse(o.Name.Name, out BlobId id) && repo.Index.HasPack(id))
            {
                staged.Add(o);
            }
        }
        int moved = 0;
        var failed = new List<string>();
        foreach (ObjectInfo o in staged)
        {
            byte[] bytes = await repo.ReadWholeAsync(o.Name, ct).ConfigureAwait(false);
            if (Convert.ToHexStringLower(SHA256.HashData(bytes)) != o.Name.Name)
            {
                failed.Add($"{o.Name.Path}: content does not match its name; left in the warm class");
                continue;
            }
            await transition.MoveToColdAsync(o.Name, ct).ConfigureAwait(false);
            moved++;
        }
        return new Result(moved, failed);
    }
}
