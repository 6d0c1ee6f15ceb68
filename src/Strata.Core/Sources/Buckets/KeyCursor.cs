namespace Strata.Sources.Buckets;

/// <summary>
/// One sorted stream in a merge by key: a point's entries or a bucket listing. Checks that keys never go backwards,
/// since a merge over a stream out of order would pair the wrong versions.
/// </summary>
internal sealed class KeyCursor<T> : IAsyncDisposable
{
    private readonly IAsyncEnumerator<T> _e;
    private readonly Func<T, string> _key;
    private readonly string _what;
    private string? _lastKey;

    private KeyCursor(IAsyncEnumerator<T> e, Func<T, string> key, string what)
    {
        _e = e;
        _key = key;
        _what = what;
    }

    public bool HasCurrent { get; private set; }
    public T Current => _e.Current;
    public string Key => _key(_e.Current);

    public static async Task<KeyCursor<T>> OpenAsync(IAsyncEnumerable<T> source, Func<T, string> key, string what, CancellationToken ct)
    {
        var c = new KeyCursor<T>(source.GetAsyncEnumerator(ct), key, what);
        await c.MoveNextAsync().ConfigureAwait(false);
        return c;
    }

    public async Task MoveNextAsync()
    {
        HasCurrent = await _e.MoveNextAsync().ConfigureAwait(false);
        if (HasCurrent)
        {
            string k = Key;
            if (_lastKey is not null && KeyOrder.Instance.Compare(k, _lastKey) < 0)
            {
                throw new Strata.Stores.PermanentStoreException($"{_what} lists '{k}' after '{_lastKey}': keys are out of order, so it cannot be merged safely");
            }
            _lastKey = k;
        }
    }

    /// <summary>Every item with key <paramref name="key"/> at the head of the stream, consumed.</summary>
    public async Task<List<T>> TakeKeyAsync(string key)
    {
        var items = new List<T>();
        while (HasCurrent && Key == key)
        {
            items.Add(Current);
            await MoveNextAsync().ConfigureAwait(false);
        }
        return items;
    }

    public ValueTask DisposeAsync() => _e.DisposeAsync();

    /// <summary>The smallest head key among the cursors, or null when all are done.</summary>
    public static string? MinKey(IEnumerable<KeyCursor<T>> cursors)
    {
        string? min = null;
        foreach (var c in cursors)
        {
            if (c.HasCurrent && (min is null || KeyOrder.Instance.Compare(c.Key, min) < 0))
            {
                min = c.Key;
            }
        }
        return min;
    }
}
