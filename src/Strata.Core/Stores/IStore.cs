namespace Strata.Stores;

/// <summary>The kinds of object a repository holds. Each kind has one folder (prefix) and one tier.</summary>
public enum ObjectKind
{
    Config,
    Keys,
    Snapshots,
    Index,
    Catalogs,
    Tree,
    Data,
    Thaws,
    Deletions,
    Locks,
    /// <summary>Restoration points of versioned S3 buckets (which version each key had at a time).</summary>
    Points,
}

/// <summary>Warm objects are readable at any time; cold objects may need a thaw first.</summary>
public enum Tier
{
    Warm,
    Cold,
}

/// <summary>The name of one object in a store: its kind plus a name inside that kind's folder.</summary>
/// <remarks>Names are lower-case hex ids (or "config"); stores refuse anything else, so a name never escapes its folder.</remarks>
public readonly record struct ObjectName
{
    public ObjectName(ObjectKind kind, string name)
    {
        if (!IsValidName(kind, name))
        {
            throw new ArgumentException($"'{name}' is not a valid {ObjectKinds.Folder(kind)} object name", nameof(name));
        }
        Kind = kind;
        Name = name;
    }

    public ObjectKind Kind { get; }
    public string Name { get; }

    /// <summary>The path inside the repository, with '/' separators: "config", "data/ab12...".</summary>
    public string Path => Kind == ObjectKind.Config ? "config" : ObjectKinds.Folder(Kind) + "/" + Name;

    public Tier Tier => ObjectKinds.TierOf(Kind);

    public static ObjectName Config => new(ObjectKind.Config, "config");

    public static bool IsValidName(ObjectKind kind, string name)
    {
        if (kind == ObjectKind.Config)
        {
            return name == "config";
        }
        if (name.Length is < 1 or > 128)
        {
            return false;
        }
        foreach (char c in name)
        {
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'f')))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Parses a repository path such as "data/ab12..." or "config"; null when it is not a valid object path.</summary>
    public static ObjectName? TryParsePath(string path)
    {
        if (path == "config")
        {
            return Config;
        }
        int slash = path.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0)
        {
            return null;
        }
        ObjectKind? kind = ObjectKinds.FromFolder(path[..slash]);
        string name = path[(slash + 1)..];
        return kind is { } k && k != ObjectKind.Config && IsValidName(k, name) ? new ObjectName(k, name) : null;
    }

    public override string ToString() => Path;
}

public static class ObjectKinds
{
    public static readonly ObjectKind[] All = Enum.GetValues<ObjectKind>();

    public static string Folder(ObjectKind kind) => kind switch
    {
        ObjectKind.Config => "config",
        ObjectKind.Keys => "keys",
        ObjectKind.Snapshots => "snapshots",
        ObjectKind.Index => "index",
        ObjectKind.Catalogs => "catalogs",
        ObjectKind.Tree => "tree",
        ObjectKind.Data => "data",
        ObjectKind.Thaws => "thaws",
        ObjectKind.Deletions => "deletions",
        ObjectKind.Locks => "locks",
        ObjectKind.Points => "points",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public static ObjectKind? FromFolder(string folder)
    {
        foreach (ObjectKind k in All)
        {
            if (Folder(k) == folder)
            {
                return k;
            }
        }
        return null;
    }

    /// <summary>Only data packs (file contents and band records) are cold; everything that decides what to read is warm.</summary>
    public static Tier TierOf(ObjectKind kind) => kind == ObjectKind.Data ? Tier.Cold : Tier.Warm;
}

/// <summary>What a store knows about one object.</summary>
/// <param name="StorageClass">The store's own name for where it lives ("STANDARD", "DEEP_ARCHIVE", "local", "local-cold"), if known.</param>
public sealed record ObjectInfo(ObjectName Name, long Length, DateTimeOffset? LastModified = null, string? StorageClass = null);

public enum ThawState
{
    /// <summary>The object is in a warm class and can be read now.</summary>
    Readable,
    /// <summary>The object is archived and no thaw is under way.</summary>
    Frozen,
    /// <summary>A thaw was requested and is not finished.</summary>
    Thawing,
    /// <summary>A thawed copy exists and can be read until <see cref="ThawStatus.ExpiresAt"/>.</summary>
    Thawed,
}

public sealed record ThawStatus(ThawState State, DateTimeOffset? ReadyAt = null, DateTimeOffset? ExpiresAt = null)
{
    public bool CanRead => State is ThawState.Readable or ThawState.Thawed;
}

/// <summary>Retrieval speed of a thaw; maps to S3's Bulk / Standard / Expedited.</summary>
public enum ThawTier
{
    Bulk,
    Standard,
    Expedited,
}

public sealed record ThawRequest(ThawTier Tier, int Days);

/// <summary>What a store can do, as data, so the layers above can plan without knowing the backend.</summary>
/// <param name="Connections">How many requests may run at once.</param>
/// <param name="HasColdTier">Cold objects may need a thaw before they can be read.</param>
/// <param name="SimulatedCold">The cold tier is a local simulation (for rehearsals and tests).</param>
/// <param name="AtomicCreate">A create-only write is atomic: no reader ever sees a partial object.</param>
/// <param name="ColdReadsDirectly">The store keeps an archive class but reads it without a thaw (radosgw).</param>
/// <param name="PriceProvider">Which price table prices this store ("aws-s3", "azure-blob", "backblaze-b2", "local").</param>
/// <param name="ColdStorageClass">The storage class cold objects land in ("DEEP_ARCHIVE", ...; "local" when there is none).</param>
/// <param name="WarmStorageClass">The storage class warm objects land in.</param>
public sealed record StoreProperties(
    int Connections,
    bool HasColdTier,
    bool SimulatedCold = false,
    bool AtomicCreate = true,
    bool ColdReadsDirectly = false,
    string PriceProvider = "local",
    string ColdStorageClass = "local",
    string WarmStorageClass = "local");

/// <summary>
/// The narrow contract every backend implements. It knows nothing about backups: it stores immutable
/// named byte strings. Every member may throw <see cref="StoreException"/> subclasses:
/// <see cref="ObjectNotFoundException"/>, <see cref="ObjectFrozenException"/>, <see cref="TransientStoreException"/>
/// (worth retrying) or <see cref="PermanentStoreException"/> (not worth retrying).
/// </summary>
public interface IStore : IAsyncDisposable
{
    /// <summary>A description for messages and logs, with secrets redacted.</summary>
    string Location { get; }

    StoreProperties Properties { get; }

    /// <summary>The object's size and class, or null when it does not exist. Never needs a thaw. Idempotent.</summary>
    Task<ObjectInfo?> StatAsync(ObjectName name, CancellationToken ct);

    /// <summary>
    /// Reads exactly <paramref name="buffer"/>.Length bytes starting at <paramref name="offset"/>.
    /// Throws <see cref="ObjectNotFoundException"/>, <see cref="ObjectFrozenException"/> for a cold object
    /// that is not thawed, or <see cref="PermanentStoreException"/> when the object is shorter than asked. Idempotent.
    /// </summary>
    Task ReadAsync(ObjectName name, long offset, Memory<byte> buffer, CancellationToken ct);

    /// <summary>
    /// Creates the object with the bytes of <paramref name="content"/> (read from its current position to the end).
    /// Create-only: if an object of that name exists with the same bytes this is a success (idempotent retry);
    /// with different bytes it throws <see cref="ObjectExistsException"/> and the stored object is unchanged.
    /// No partial object is ever visible. The tier decides the storage class.
    /// The stream must be seekable so a retry can start again.
    /// </summary>
    Task WriteAsync(ObjectName name, Stream content, CancellationToken ct);

    /// <summary>Deletes the object; deleting a missing object is a success. Idempotent.</summary>
    Task DeleteAsync(ObjectName name, CancellationToken ct);

    /// <summary>Lists the objects of one kind, in no particular order.</summary>
    IAsyncEnumerable<ObjectInfo> ListAsync(ObjectKind kind, CancellationToken ct);

    /// <summary>Whether a cold object can be read now. Warm objects and stores without a cold tier answer Readable.</summary>
    Task<ThawStatus> GetThawStatusAsync(ObjectName name, CancellationToken ct);

    /// <summary>Asks for a cold object to be made readable. Repeating it while a thaw is running is a success.</summary>
    Task RequestThawAsync(ObjectName name, ThawRequest request, CancellationToken ct);
}
