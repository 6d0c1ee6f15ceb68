using Strata.Stores;

namespace Strata.Server;

/// <summary>What a request wants to do to a repository.</summary>
public enum Operation
{
    CreateRepository,
    Stat,
    List,
    Read,
    Write,
    Delete,
    ThawStatus,
    ThawRequest,
}

/// <summary>
/// The role rules, as one pure function so the whole matrix is tested in one place.
/// <list type="bullet">
/// <item>Every role may create objects (create-only: an existing name is never replaced), stat and list; only an admin
/// creates deletion records (they tell purge what to delete).</item>
/// <item>A writer reads only config, keys, index, catalogs, locks, snapshots, bucket points (whose headers it lists
/// and verifies after writing; their entries are sealed to the owner key) and deletion records (it must skip packs
/// on their way out when it deduplicates). Snapshots are readable because a
/// Strata writer needs the snapshot headers (sealed to the writer key) for version numbering and to find its parent;
/// the snapshot bodies are sealed to the owner key, so a writer login learns nothing a writer key could not. Data and
/// tree packs are refused.</item>
/// <item>A reader reads everything and may ask for thaws (they cost money, and only restores need them).</item>
/// <item>Writers and readers delete only locks they created themselves; an admin deletes anything.</item>
/// </list>
/// </summary>
public static class Access
{
    public static bool Allows(Role role, Operation op, ObjectKind? kind, bool ownLock)
    {
        if (role == Role.Admin)
        {
            return true;
        }
        return op switch
        {
            Operation.CreateRepository or Operation.Stat or Operation.List or Operation.ThawStatus => true,
            Operation.Write => kind != ObjectKind.Deletions,
            Operation.Read => role == Role.Reader || kind is ObjectKind.Config or ObjectKind.Keys or ObjectKind.Index or ObjectKind.Catalogs or ObjectKind.Locks or ObjectKind.Snapshots or ObjectKind.Points or ObjectKind.Deletions,
            Operation.ThawRequest => role == Role.Reader,
            Operation.Delete => kind == ObjectKind.Locks && ownLock,
            _ => false,
        };
    }
}
