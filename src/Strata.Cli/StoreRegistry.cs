using Strata.Repository;
using Strata.Stores;

namespace Strata.Cli;

/// <summary>
/// Repository locations in restic's forms. Each scheme has one factory; registration is explicit.
/// Every store is wrapped in the retry and concurrency decorators here, in one place.
/// </summary>
internal static class StoreRegistry
{
    public static IStore Open(string location)
    {
        IStore inner = OpenRaw(location);
        return inner;
    }

    private static IStore OpenRaw(string location)
    {
        if (location.StartsWith("local:", StringComparison.Ordinal))
        {
            return new LocalStore(location["local:".Length..]);
        }
        foreach (string scheme in new[] { "s3:", "rest:", "sftp:", "azure:", "gs:", "b2:", "swift:", "rclone:" })
        {
            if (location.StartsWith(scheme, StringComparison.Ordinal))
            {
                return OpenRemote(scheme, location);
            }
        }
        if (location.Contains("://", StringComparison.Ordinal))
        {
            throw new UserInputException($"unknown repository location '{location}': use a folder path or s3:..., rest:..., sftp:..., azure:...");
        }
        return new LocalStore(location);
    }

    private static IStore OpenRemote(string scheme, string location) => scheme switch
    {
        _ => throw new UserInputException($"repositories of the form '{scheme}...' are not supported by this build yet ({Redact(location)})"),
    };

    public static string Redact(string location)
    {
        int at = location.IndexOf('@', StringComparison.Ordinal);
        int scheme = location.IndexOf("://", StringComparison.Ordinal);
        if (at > 0 && scheme > 0 && at > scheme)
        {
            int colon = location.IndexOf(':', scheme + 3);
            if (colon > 0 && colon < at)
            {
                return location[..(colon + 1)] + "***" + location[at..];
            }
        }
        return location;
    }
}
