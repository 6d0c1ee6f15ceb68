using System.Text;

namespace Strata.Sources.Buckets;

/// <summary>
/// S3 lists keys in the order of their UTF-8 bytes. That is code point order, which differs from .NET's ordinal
/// (UTF-16) order for characters above U+E000 versus surrogate pairs, so merges of listings and points use this.
/// </summary>
public sealed class KeyOrder : IComparer<string>
{
    public static readonly KeyOrder Instance = new();

    public int Compare(string? x, string? y)
    {
        if (ReferenceEquals(x, y))
        {
            return 0;
        }
        if (x is null || y is null)
        {
            return x is null ? -1 : 1;
        }
        StringRuneEnumerator a = x.EnumerateRunes();
        StringRuneEnumerator b = y.EnumerateRunes();
        while (true)
        {
            bool hasA = a.MoveNext();
            bool hasB = b.MoveNext();
            if (!hasA || !hasB)
            {
                return hasA == hasB ? 0 : hasA ? 1 : -1;
            }
            int c = a.Current.Value.CompareTo(b.Current.Value);
            if (c != 0)
            {
                return c;
            }
        }
    }
}
