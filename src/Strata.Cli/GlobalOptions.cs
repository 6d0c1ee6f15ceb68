using System.CommandLine;
using Strata.Repository;
using Strata.Stores;

namespace Strata.Cli;

/// <summary>Options every command takes, and how a command opens its repository.</summary>
internal static class GlobalOptions
{
    public static readonly Option<string?> Repo = new("--repo", "-r")
    {
        Description = "repository: a folder, s3:https://host/bucket/prefix, ... (default: $STRATA_REPOSITORY, else ~/.local/share/strata/repository)",
        Recursive = true,
    };

    public static readonly Option<string?> PasswordFile = new("--password-file", "-p")
    {
        Description = "read the passphrase from this file (default: $STRATA_PASSWORD_FILE, $STRATA_PASSWORD, else a prompt)",
        Recursive = true,
    };

    public static readonly Option<bool> Json = new("--json") { Description = "machine-readable output", Recursive = true };

    public static readonly Option<bool> Quiet = new("--quiet", "-q") { Description = "print only errors", Recursive = true };

    public static readonly Option<string?> CacheDir = new("--cache-dir") { Description = "local cache folder (default $XDG_CACHE_HOME/strata)", Recursive = true };

    public static void AddTo(RootCommand root)
    {
        root.Options.Add(Repo);
        root.Options.Add(PasswordFile);
        root.Options.Add(Json);
        root.Options.Add(Quiet);
        root.Options.Add(CacheDir);
        root.Options.Add(Locking.LockWait);
    }

    public static string RepoLocation(ParseResult p) =>
        p.GetValue(Repo) ?? NonEmpty(Environment.GetEnvironmentVariable("STRATA_REPOSITORY"))
        ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share", "strata", "repository");

    private static string? NonEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;

    public static string CacheRoot(ParseResult p) => p.GetValue(CacheDir) ?? Archiver.ParentTrees.DefaultCacheRoot();

    /// <summary>The passphrase: --password-file, $STRATA_PASSWORD_FILE, $STRATA_PASSWORD, else a prompt on the terminal.</summary>
    public static string Password(ParseResult p, string prompt = "enter passphrase: ")
    {
        string? file = p.GetValue(PasswordFile) ?? NonEmpty(Environment.GetEnvironmentVariable("STRATA_PASSWORD_FILE"));
        if (file is not null)
        {
            return ReadPasswordFile(file);
        }
        string? env = Environment.GetEnvironmentVariable("STRATA_PASSWORD");
        if (env is not null)
        {
            return env;
        }
        return Prompt(prompt);
    }

    /// <summary>True when the passphrase comes from a file or the environment, not from a prompt (which reads stdin).</summary>
    public static bool HasPasswordSource(ParseResult p) =>
        p.GetValue(PasswordFile) is not null || NonEmpty(Environment.GetEnvironmentVariable("STRATA_PASSWORD_FILE")) is not null
        || Environment.GetEnvironmentVariable("STRATA_PASSWORD") is not null;

    public static string ReadPasswordFile(string file)
    {
        try
        {
            string text = File.ReadAllText(file);
            return text.TrimEnd('\r', '\n');
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"cannot read password file {file}: {e.Message}");
        }
    }

    public static string Prompt(string prompt)
    {
        if (Console.IsInputRedirected)
        {
            string? line = Console.In.ReadLine();
            return line ?? throw new UserInputException("no passphrase given: set STRATA_PASSWORD, use --password-file, or run on a terminal");
        }
        Console.Error.Write(prompt);
        var sb = new System.Text.StringBuilder();
        while (true)
        {
            ConsoleKeyInfo k = Console.ReadKey(intercept: true);
            if (k.Key == ConsoleKey.Enter)
            {
                break;
            }
            if (k.Key == ConsoleKey.Backspace)
            {
                if (sb.Length > 0)
                {
                    sb.Length--;
                }
                continue;
            }
            sb.Append(k.KeyChar);
        }
        Console.Error.WriteLine();
        return sb.ToString();
    }

    public static IStore OpenStore(ParseResult p) => StoreRegistry.Open(RepoLocation(p));

    public static Task<Repo> OpenRepoAsync(ParseResult p, CancellationToken ct, bool loadIndex = true) =>
        OpenRepoAtAsync(RepoLocation(p), () => Password(p), ct, loadIndex);

    /// <summary>Opens the repository at <paramref name="location"/>; the passphrase is asked for only once the repository is found.</summary>
    public static async Task<Repo> OpenRepoAtAsync(string location, Func<string> password, CancellationToken ct, bool loadIndex = true)
    {
        IStore store = StoreRegistry.Open(location);
        try
        {
            RepoConfig config = await Repository.Repo.ReadConfigAsync(store, ct).ConfigureAwait(false);
            store = StoreRegistry.ApplyStorage(store, location, config.Storage);
            Repo repo = await Repository.Repo.OpenAsync(store, password(), TimeProvider.System, ct).ConfigureAwait(false);
            if (loadIndex)
            {
                await repo.LoadIndexAsync(ct).ConfigureAwait(false);
            }
            return repo;
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Runs a command body, turning exceptions into a message and an exit code.</summary>
    public static async Task<int> Guard(Func<Task<int>> body)
    {
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            return ExitCodes.Report(e);
        }
    }
}
