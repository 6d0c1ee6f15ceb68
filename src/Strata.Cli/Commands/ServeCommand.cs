#if STRATA_SERVER
using System.CommandLine;
using Strata.Repository;
using Strata.Server;
using Strata.Stores;

namespace Strata.Cli.Commands;

/// <summary>
/// <c>strata serve</c>: hosts repositories over HTTP(S) with restic's REST protocol (so restic clients work too),
/// with per-repository roles from a users file; and <c>strata serve users add|remove|list</c> to manage that file.
/// </summary>
internal static class ServeCommand
{
    private static readonly Option<string[]> Repos = new("--repo", "-r")
    {
        Description = "a repository to serve: STORE at the root, or PREFIX=STORE under /PREFIX/ (repeatable)",
        AllowMultipleArgumentsPerToken = false,
    };
    private static readonly Option<string[]> Listen = new("--listen") { Description = "address to listen on, HOST:PORT (repeatable; default 127.0.0.1:8000)" };
    private static readonly Option<string?> UsersFile = new("--users") { Description = "the users file (JSON, Argon2id password hashes); manage it with 'strata serve users'", Recursive = true };
    private static readonly Option<bool> NoAuth = new("--no-auth") { Description = "no logins: everyone is admin (reader with --append-only); loopback addresses only" };
    private static readonly Option<bool> AppendOnly = new("--append-only") { Description = "every role but admin is append-only; with --no-auth nobody may delete" };
    private static readonly Option<string?> TlsCert = new("--tls-cert") { Description = "TLS certificate (PEM)" };
    private static readonly Option<string?> TlsKey = new("--tls-key") { Description = "TLS private key (PEM)" };
    private static readonly Option<bool> Insecure = new("--insecure") { Description = "allow plain HTTP on a non-loopback address (behind a VPN or a TLS proxy)" };
    private static readonly Option<string?> MaxBody = new("--max-body") { Description = "largest object accepted (default 1GiB)" };
    private static readonly Option<string?> MirrorTo = new("--mirror-to") { Description = "mirror every repository to this store (s3:..., a folder, rest:...) at start and every --mirror-every; a repository under PREFIX goes to STORE/PREFIX" };
    private static readonly Option<string?> MirrorEvery = new("--mirror-every") { Description = "how often to mirror (default 6h)" };

    private static readonly Argument<string> UserName = new("name") { Description = "the user's login name" };
    private static readonly Option<string[]> Roles = new("--role")
    {
        Description = "ROLE for every repository, or PREFIX=ROLE for one (repeatable); ROLE is writer, reader or admin; '/' names the root repository",
    };

    public static Command Create()
    {
        var cmd = new Command("serve", "serve repositories over HTTP(S) (restic REST protocol v2) to other machines, with writer/reader/admin roles");
        foreach (Option o in new Option[] { Repos, Listen, UsersFile, NoAuth, AppendOnly, TlsCert, TlsKey, Insecure, MaxBody, MirrorTo, MirrorEvery })
        {
            cmd.Options.Add(o);
        }
        cmd.SetAction((p, ct) => GlobalOptions.Guard(() => RunAsync(p, ct)));

        var users = new Command("users", "manage the users file of 'strata serve'");
        var add = new Command("add", "add a user, or replace its password and roles (password from --password-file, else a prompt)");
        add.Arguments.Add(UserName);
        add.Options.Add(Roles);
        add.SetAction(p => GlobalOptions.Guard(() => Task.FromResult(AddUser(p))));
        var remove = new Command("remove", "remove a user");
        remove.Arguments.Add(UserName);
        remove.SetAction(p => GlobalOptions.Guard(() => Task.FromResult(RemoveUser(p))));
        var list = new Command("list", "list the users and their roles");
        list.SetAction(p => GlobalOptions.Guard(() => Task.FromResult(ListUsers(p))));
        users.Subcommands.Add(add);
        users.Subcommands.Add(remove);
        users.Subcommands.Add(list);
        cmd.Subcommands.Add(users);
        return cmd;
    }

    /// <summary>"PREFIX=STORE" when the part before the first '=' is a valid prefix; otherwise the whole value is a store at the root.</summary>
    internal static (string Prefix, string Store) ParseRepo(string value)
    {
        int eq = value.IndexOf('=', StringComparison.Ordinal);
        if (eq > 0)
        {
            string prefix = value[..eq].Trim('/');
            if (prefix.Length > 0 && ServerOptions.IsValidPrefix(prefix) && !value[..eq].Contains(':', StringComparison.Ordinal))
            {
                return (prefix, value[(eq + 1)..]);
            }
        }
        return ("", value);
    }

    private static async Task<int> RunAsync(ParseResult p, CancellationToken ct)
    {
        string[] repoValues = p.GetValue(Repos) ?? [];
        if (repoValues.Length == 0)
        {
            throw new UserInputException("give --repo STORE (or several --repo PREFIX=STORE) to serve");
        }
        var served = new List<ServedRepository>();
        try
        {
            foreach (string value in repoValues)
            {
                (string prefix, string location) = ParseRepo(value);
                served.Add(new ServedRepository(prefix, StoreRegistry.Open(location)));
            }
            string? usersFile = p.GetValue(UsersFile);
            bool noAuth = p.GetValue(NoAuth);
            if (noAuth && usersFile is not null)
            {
                throw new UserInputException("give either --users or --no-auth, not both");
            }
            bool quiet = p.GetValue(GlobalOptions.Quiet);
            MirrorService? mirror = await MakeMirrorAsync(p, repoValues, served, quiet);
            var options = new ServerOptions
            {
                Repositories = served,
                Listen = p.GetValue(Listen) is { Length: > 0 } l ? l : ["127.0.0.1:8000"],
                Users = usersFile is null ? null : UserDatabase.Load(usersFile, mustExist: true),
                NoAuth = noAuth,
                AppendOnly = p.GetValue(AppendOnly),
                TlsCertFile = p.GetValue(TlsCert),
                TlsKeyFile = p.GetValue(TlsKey),
                Insecure = p.GetValue(Insecure),
                MaxBodyBytes = p.GetValue(MaxBody) is { } mb ? Units.ParseSize(mb, "--max-body") : ServerOptions.DefaultMaxBodyBytes,
                RequestLog = quiet ? null : Console.Out,
                ExtraMetrics = mirror is null ? null : mirror.RenderMetrics,
            };
            await using var server = new RestServer(options);
            await server.StartAsync(ct);
            if (!quiet)
            {
                string auth = noAuth ? "no logins (loopback only)" : $"users from {usersFile}";
                Console.Error.WriteLine($"strata serve: {served.Count} repositor{(served.Count == 1 ? "y" : "ies")} ({string.Join(", ", served.Select(s => s.Label + " = " + StoreRegistry.Redact(s.Store.Location)))}) on {string.Join(", ", server.Addresses)}; {auth}{(options.AppendOnly ? "; append-only" : "")}{(mirror is null ? "" : $"; mirroring to {StoreRegistry.Redact(p.GetValue(MirrorTo)!)} every {p.GetValue(MirrorEvery) ?? "6h"}")}");
            }
            using var stopMirror = CancellationTokenSource.CreateLinkedTokenSource(ct);
            Task mirrorRun = mirror is null ? Task.CompletedTask : Task.Run(() => mirror.RunAsync(stopMirror.Token), CancellationToken.None);
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            catch (OperationCanceledException)
            {
            }
            await stopMirror.CancelAsync();
            await mirrorRun.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (!quiet)
            {
                Console.Error.WriteLine("strata serve: shutting down: finishing requests in flight");
            }
            await server.StopAsync(CancellationToken.None);
            return ExitCodes.Ok;
        }
        finally
        {
            foreach (ServedRepository r in served)
            {
                await r.Store.DisposeAsync();
            }
        }
    }

    /// <summary>The mirror schedule of --mirror-to, or null. Each repository goes to STORE, or STORE/PREFIX when it has a prefix.</summary>
    private static async Task<MirrorService?> MakeMirrorAsync(ParseResult p, string[] repoValues, List<ServedRepository> served, bool quiet)
    {
        string? to = p.GetValue(MirrorTo);
        string? every = p.GetValue(MirrorEvery);
        if (to is null)
        {
            return every is null ? null : throw new UserInputException("--mirror-every needs --mirror-to STORE");
        }
        TimeSpan interval = every is null ? TimeSpan.FromHours(6) : Units.ParseDuration(every, "--mirror-every");
        if (interval <= TimeSpan.Zero)
        {
            throw new UserInputException("--mirror-every must be longer than 0");
        }
        var jobs = new List<MirrorJob>();
        for (int i = 0; i < served.Count; i++)
        {
            ServedRepository r = served[i];
            string target = r.Prefix.Length == 0 ? to : to.TrimEnd('/') + "/" + r.Prefix;
            await using IStore probe = StoreRegistry.Open(target);
            if (probe.Location == r.Store.Location)
            {
                throw new UserInputException($"--mirror-to: {StoreRegistry.Redact(target)} is the served repository {repoValues[i]} itself");
            }
            jobs.Add(new MirrorJob(r.Label, r.Store, StoreRegistry.Redact(target), (config, ct) => MirrorCommand.OpenTargetAsync(target, config, null, ct)));
        }
        return new MirrorService(jobs, interval, quiet ? null : Console.Out);
    }

    private static string RequireUsersFile(ParseResult p) =>
        p.GetValue(UsersFile) ?? throw new UserInputException("give the users file with --users FILE");

    private static int AddUser(ParseResult p)
    {
        string file = RequireUsersFile(p);
        string name = p.GetValue(UserName)!;
        string[] roleValues = p.GetValue(Roles) ?? [];
        if (roleValues.Length == 0)
        {
            throw new UserInputException("give at least one --role: writer, reader or admin (for every repository), or PREFIX=ROLE");
        }
        var roles = new Dictionary<string, Role>(StringComparer.Ordinal);
        foreach (string v in roleValues)
        {
            int eq = v.LastIndexOf('=');
            string prefix = eq < 0 ? "*" : v[..eq].Trim('/');
            string roleName = eq < 0 ? v : v[(eq + 1)..];
            if (eq >= 0 && prefix.Length > 0 && !ServerOptions.IsValidPrefix(prefix))
            {
                throw new UserInputException($"--role: '{v[..eq]}' is not a repository prefix");
            }
            if (!Enum.TryParse(roleName, ignoreCase: true, out Role role) || !Enum.IsDefined(role) || int.TryParse(roleName, out _))
            {
                throw new UserInputException($"--role: '{roleName}' is not writer, reader or admin");
            }
            roles[prefix] = role;
        }
        string password;
        if (p.GetValue(GlobalOptions.PasswordFile) is { } pf)
        {
            password = GlobalOptions.ReadPasswordFile(pf);
        }
        else
        {
            password = GlobalOptions.Prompt($"password for {name}: ");
            if (!Console.IsInputRedirected && GlobalOptions.Prompt("the same password again: ") != password)
            {
                throw new UserInputException("the passwords do not match");
            }
        }
        UserDatabase db = UserDatabase.Load(file, mustExist: false);
        bool existed = db.Users.Any(u => u.Name == name);
        db.Set(name, password, roles);
        db.Save(file);
        if (!p.GetValue(GlobalOptions.Quiet))
        {
            Console.WriteLine($"{(existed ? "updated" : "added")} user {name} ({Describe(roles)}) in {file}");
        }
        return ExitCodes.Ok;
    }

    private static int RemoveUser(ParseResult p)
    {
        string file = RequireUsersFile(p);
        string name = p.GetValue(UserName)!;
        UserDatabase db = UserDatabase.Load(file, mustExist: true);
        if (!db.Remove(name))
        {
            throw new UserInputException($"there is no user {name} in {file}");
        }
        db.Save(file);
        if (!p.GetValue(GlobalOptions.Quiet))
        {
            Console.WriteLine($"removed user {name} from {file}; a running server reads the file at start, so restart it");
        }
        return ExitCodes.Ok;
    }

    private static int ListUsers(ParseResult p)
    {
        string file = RequireUsersFile(p);
        UserDatabase db = UserDatabase.Load(file, mustExist: true);
        foreach (ServerUser u in db.Users.OrderBy(u => u.Name, StringComparer.Ordinal))
        {
            Console.WriteLine($"{u.Name}\t{Describe(u.Roles)}");
        }
        return ExitCodes.Ok;
    }

    private static string Describe(Dictionary<string, Role> roles) =>
        string.Join(", ", roles.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => (r.Key switch { "*" => "every repository", "" => "/", var k => k }) + ": " + r.Value.ToString().ToLowerInvariant()));
}
#endif
