namespace Strata.Stores;

/// <summary>Base of every error a store raises. The message names the object and the store.</summary>
public class StoreException : Exception
{
    public StoreException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>The object does not exist.</summary>
public sealed class ObjectNotFoundException : StoreException
{
    public ObjectNotFoundException(string location, ObjectName name)
        : base($"{name.Path} not found in {location}") => Name = name;

    public ObjectName Name { get; }
}

/// <summary>A create-only write met an existing object with different content.</summary>
public sealed class ObjectExistsException : StoreException
{
    public ObjectExistsException(string location, ObjectName name)
        : base($"{name.Path} already exists in {location} with different content; objects are never overwritten") => Name = name;

    public ObjectName Name { get; }
}

/// <summary>A cold object was read without a finished thaw.</summary>
public sealed class ObjectFrozenException : StoreException
{
    public ObjectFrozenException(string location, ObjectName name, string storageClass, ThawStatus status)
        : base($"{name.Path} in {location} is in cold storage ({storageClass}) and is {Describe(status)}; run a restore that plans a thaw first")
    {
        Name = name;
        Status = status;
    }

    public ObjectName Name { get; }
    public ThawStatus Status { get; }

    private static string Describe(ThawStatus s) => s.State switch
    {
        ThawState.Thawing => s.ReadyAt is { } r ? $"still thawing (ready about {r:u})" : "still thawing",
        _ => "not thawed",
    };
}

/// <summary>A failure that may go away on retry: a timeout, a dropped connection, throttling.</summary>
public sealed class TransientStoreException : StoreException
{
    public TransientStoreException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>A failure that a retry will not fix: bad credentials, a missing bucket, a full disk, a short object.</summary>
public sealed class PermanentStoreException : StoreException
{
    public PermanentStoreException(string message, Exception? inner = null) : base(message, inner) { }
}
