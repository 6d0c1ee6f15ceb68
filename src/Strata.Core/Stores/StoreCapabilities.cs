namespace Strata.Stores;

/// <summary>A store that wraps another (retry, concurrency limit, fault injection).</summary>
public interface IStoreDecorator
{
    IStore Inner { get; }
}

/// <summary>
/// A store that can write cold objects to a warm class first ("staging") and move them to the cold class later,
/// once the backup that wrote them is complete and verified (S3: an in-place CopyObject with the cold class).
/// The bytes never change: only where they are kept.
/// </summary>
public interface IColdTransition
{
    /// <summary>Whether new cold objects are written to the warm class first.</summary>
    bool StagesWarm { get; }

    /// <summary>Whether this object is still staged in the warm class.</summary>
    bool IsStaged(ObjectInfo info);

    /// <summary>Moves a staged object to the cold class. Idempotent.</summary>
    Task MoveToColdAsync(ObjectName name, CancellationToken ct);
}

public static class StoreExtensions
{
    /// <summary>The first store of type <typeparamref name="T"/> in a chain of decorators, or null.</summary>
    public static T? Find<T>(this IStore store)
        where T : class
    {
        IStore? s = store;
        while (s is not null)
        {
            if (s is T t)
            {
                return t;
            }
            s = (s as IStoreDecorator)?.Inner;
        }
        return null;
    }
}
