using System.CommandLine;
using Strata.Cli.Output;
using Strata.Locks;
using Strata.Repository;

namespace Strata.Cli.Commands;

/// <summary>
/// strata unlock [--remove-all]: removes stale locks (not refreshed for 30 minutes, or left on this machine by a
/// process that is gone), or every lock. Needs the owner key; on a server, deleting a lock another login created
/// needs an admin login, and a refusal is reported per lock.
/// </summary>
internal static class UnlockCommand
{
    private static readonly Option<bool> RemoveAll = new("--remove-all") { Description = "remove every lock, also those of runs that still seem alive (make sure none is running)" };

    public static Command Create()
    {
        var cmd = new Command("unlock", "remove stale repository locks (with --remove-all: every lock)");
        cmd.Options.Add(RemoveAll);
        cmd.SetAction((p, ct) => GlobalOptions.Guard(async () =>
        {
            await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct, loadIndex: false);
            repo.RequireOwner("unlock");
            bool json = p.GetValue(GlobalOptions.Json);
            bool quiet = p.GetValue(GlobalOptions.Quiet);
            var removals = await RepoLock.RemoveAsync(repo.Store, repo.Keys, p.GetValue(RemoveAll), new LockOptions().StaleAfter, repo.Clock, ct);
            int refused = 0;
            foreach (RepoLock.Removal r in removals)
            {
                string what = r.Removed ? "removed" : r.Error is not null ? "refused" : "kept";
                refused += r.Error is not null ? 1 : 0;
                if (json)
                {
                    Format.JsonLine(new()
                    {
                        ["message_type"] = "lock",
                        ["id"] = r.Lock.Id,
                        ["action"] = what,
                        ["stale"] = r.Lock.Stale,
                        ["mode"] = r.Lock.Record?.Mode.ToString().ToLowerInvariant(),
                        ["host"] = r.Lock.Record?.Host,
                        ["pid"] = r.Lock.Record?.Pid,
                        ["time"] = r.Lock.Record?.Time,
                        ["error"] = r.Error,
                    });
                }
                else if (r.Error is not null)
                {
                    Console.Error.WriteLine($"error: could not remove {r.Lock.Describe()}: {r.Error}{(r.Error.Contains("403", StringComparison.Ordinal) ? " (a server lets only an admin login remove locks another login created)" : "")}");
                }
                else if (!quiet)
                {
                    Console.WriteLine(r.Removed
                        ? $"removed {(r.Lock.Stale ? "stale " : "")}{r.Lock.Describe()}"
                        : $"kept live {r.Lock.Describe()} (use --remove-all only if that run is gone)");
                }
            }
            int removed = removals.Count(r => r.Removed);
            if (!json && !quiet)
            {
                Console.WriteLine(removals.Count == 0 ? "no locks" : $"{removed} of {removals.Count} locks removed");
            }
            return refused > 0 ? ExitCodes.Failure : ExitCodes.Ok;
        }));
        return cmd;
    }
}
