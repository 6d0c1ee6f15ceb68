using System.CommandLine;
using Strata.Locks;
using Strata.Repository;

namespace Strata.Cli;

/// <summary>How commands take the repository lock: --lock-wait, and waiting or refresh problems told on stderr.</summary>
internal static class Locking
{
    public static readonly Option<string?> LockWait = new("--lock-wait")
    {
        Description = "when another run holds a conflicting lock, wait this long for it (e.g. 30s, 10m; default 0: fail at once with exit code 11)",
        Recursive = true,
    };

    public static TimeSpan Wait(ParseResult p) =>
        p.GetValue(LockWait) is { } s ? Commands.Units.ParseDuration(s, "--lock-wait") : TimeSpan.Zero;

    public static Task<RepoLock> AcquireAsync(ParseResult p, Repo repo, LockMode mode, string purpose, string? host, CancellationToken ct)
    {
        bool quiet = p.GetValue(GlobalOptions.Quiet);
        var options = new LockOptions
        {
            Purpose = purpose,
            Host = host ?? Environment.MachineName,
            Wait = Wait(p),
            // Warnings go to stderr even with --json (stdout stays machine-readable); --quiet keeps only errors.
            Report = quiet ? null : message => Console.Error.WriteLine($"strata: {message}"),
        };
        return RepoLock.AcquireAsync(repo, mode, options, ct);
    }
}
