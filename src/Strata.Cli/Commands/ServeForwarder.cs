#if !STRATA_SERVER
using System.CommandLine;
using Strata.Platform;

namespace Strata.Cli.Commands;

/// <summary>
/// <c>strata serve</c> in the client binary: the server lives in <c>strata-server</c> (the same CLI with ASP.NET
/// Core and the REST server built in), so that backups, restores and checks do not load it. This command takes
/// whatever follows <c>serve</c> unparsed and replaces the process with <c>strata-server</c> run with the same
/// arguments: the one beside this binary (build.sh and scripts/install.sh put it there), else the first on PATH.
/// The process id stays, so a service manager's SIGTERM reaches the server itself.
/// </summary>
internal static class ServeForwarder
{
    public const string ServerBinary = "strata-server";

    public static Command Create()
    {
        var cmd = new Command("serve", "serve repositories over HTTP(S) (restic REST protocol v2) to other machines, with writer/reader/admin roles")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        return cmd;
    }

    /// <summary>Replaces this process with strata-server; returns only with an exit code when it cannot be started.</summary>
    public static int Exec(string[] args)
    {
        string? server = Find(out string looked);
        if (server is null)
        {
            Console.Error.WriteLine($"strata: 'strata serve' runs {ServerBinary}, which is neither beside this binary nor on PATH (looked in {looked}); ./build.sh publishes it to out/{ServerBinary}");
            return ExitCodes.Failure;
        }
        try
        {
            Posix.Exec(server, [Environment.GetCommandLineArgs()[0], .. args]);
        }
        catch (PosixException e)
        {
            Console.Error.WriteLine($"strata: cannot start {server}: {e.Message}");
        }
        return ExitCodes.Failure;
    }

    private static string? Find(out string looked)
    {
        var dirs = new List<string>();
        string? self = Environment.ProcessPath;
        if (self is not null)
        {
            // ProcessPath is /proc/self/exe, symlinks resolved: a /usr/local/bin/strata link finds out/strata-server.
            dirs.Add(Path.GetDirectoryName(self)!);
        }
        foreach (string d in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            dirs.Add(d);
        }
        looked = string.Join(", ", dirs.Distinct(StringComparer.Ordinal));
        foreach (string d in dirs)
        {
            string candidate = Path.Combine(d, ServerBinary);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }
}
#endif
