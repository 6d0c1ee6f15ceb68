using System.CommandLine;
using Strata.Crypto;
using Strata.Repository;
using Strata.Stores;

namespace Strata.Cli.Commands;

internal static class InitCommand
{
    private static readonly Option<string?> SimulateCold = new("--simulate-cold")
    {
        Description = "local folders only: make data packs behave like Deep Archive (unreadable until thawed); DELAY is the thaw time, e.g. 12h, 30s",
    };

    private static readonly Option<string?> SimulateDay = new("--simulate-day") { Description = "with --simulate-cold: how long a 'day' of thawed-copy expiry lasts (default 24h)" };

    private static readonly Option<string?> PackSize = new("--pack-size") { Description = "target size of cold data packs (default 128MiB)" };

    private static readonly Option<string> ColdClass = new("--cold-class")
    {
        Description = "storage class for data packs on S3: DEEP_ARCHIVE (default), GLACIER, GLACIER_IR, STANDARD_IA, ONEZONE_IA, STANDARD; on Azure an access tier: Archive (default), Cold, Cool, Hot",
        DefaultValueFactory = _ => "DEEP_ARCHIVE",
    };

    private static readonly Option<bool> StageWarm = new("--stage-warm")
    {
        Description = "write data packs to the warm class first and move them to the cold class once each backup is complete and verified",
    };

    private static readonly Option<int?> ObjectLock = new("--object-lock")
    {
        Description = "S3 only: keep every object at least DAYS days with S3 Object Lock (the bucket is created with it, or must have it)",
    };

    private static readonly Option<string> ObjectLockMode = new("--object-lock-mode")
    {
        Description = "governance (default: an admin with s3:BypassGovernanceRetention can still delete) or compliance (nobody can, not even the account root)",
        DefaultValueFactory = _ => "governance",
    };

    public static Command Create()
    {
        var cmd = new Command("init", "create a repository and its owner key");
        cmd.Options.Add(ObjectLock);
        cmd.Options.Add(ObjectLockMode);
        cmd.Options.Add(SimulateCold);
        cmd.Options.Add(SimulateDay);
        cmd.Options.Add(PackSize);
        cmd.Options.Add(ColdClass);
        cmd.Options.Add(StageWarm);
        cmd.SetAction((p, ct) => GlobalOptions.Guard(() => RunAsync(p, ct)));
        return cmd;
    }

    private static async Task<int> RunAsync(ParseResult p, CancellationToken ct)
    {
        string location = GlobalOptions.RepoLocation(p);
        string coldClass = StoreRegistry.ColdClassFor(location, p.GetValue(ColdClass)!);
        int? lockDays = p.GetValue(ObjectLock);
        string lockMode = p.GetValue(ObjectLockMode)!.ToUpperInvariant();
        if (lockDays is { } days)
        {
            if (days is < 1 or > 36500)
            {
                throw new UserInputException($"--object-lock: {days} is not a number of days from 1 to 36500");
            }
            if (lockMode is not ("GOVERNANCE" or "COMPLIANCE"))
            {
                throw new UserInputException($"--object-lock-mode: '{p.GetValue(ObjectLockMode)}' is not governance or compliance");
            }
            // Before anything else: a bucket gets Object Lock only when it is created.
            await using (IStore probe = GlobalOptions.OpenStore(p))
            {
                ObjectInfo? existing = null;
                try
                {
                    existing = await probe.StatAsync(ObjectName.Config, ct);
                }
                catch (PermanentStoreException)
                {
                    // no bucket yet: it is created below, with Object Lock
                }
                if (existing is not null)
                {
                    throw new UserInputException($"a repository already exists at {probe.Location}; nothing was changed");
                }
            }
            await StoreRegistry.EnableObjectLockAsync(location, lockMode, days, ct);
        }
        await StoreRegistry.PrepareForInitAsync(location, ct);
        await using IStore store = GlobalOptions.OpenStore(p);
        if (await store.StatAsync(ObjectName.Config, ct) is not null)
        {
            throw new UserInputException($"a repository already exists at {store.Location}; nothing was changed");
        }
        string? sim = p.GetValue(SimulateCold);
        if (sim is not null)
        {
            if (store is not LocalStore local)
            {
                throw new UserInputException("--simulate-cold works only for a local folder repository");
            }
            double delay = Units.ParseDuration(sim, "--simulate-cold").TotalSeconds;
            double day = p.GetValue(SimulateDay) is { } d ? Units.ParseDuration(d, "--simulate-day").TotalSeconds : 86400;
            local.EnableColdSimulation(new ColdSimulation(delay, day));
        }
        string password = GlobalOptions.Password(p, "enter passphrase for the new repository: ");
        if (password.Length == 0)
        {
            throw new UserInputException("an empty passphrase is not allowed");
        }
        if (sim is null && !Console.IsInputRedirected && p.GetValue(GlobalOptions.PasswordFile) is null && Environment.GetEnvironmentVariable("STRATA_PASSWORD") is null)
        {
            string again = GlobalOptions.Prompt("enter the passphrase again: ");
            if (again != password)
            {
                throw new UserInputException("the passphrases do not match");
            }
        }
        long? packSize = p.GetValue(PackSize) is { } ps ? Units.ParseSize(ps, "--pack-size") : null;
        var config = RepoConfig.CreateNew(DateTimeOffset.UtcNow, packSize, new StorageParameters(coldClass, p.GetValue(StageWarm), lockDays, lockDays is null ? null : lockMode));
        await using Repo repo = await Repo.InitAsync(store, password, config, MasterKeys.CreateNew(), TimeProvider.System, ct);
        if (!p.GetValue(GlobalOptions.Quiet))
        {
            Console.WriteLine($"created strata repository {config.Id[..10]} at {StoreRegistry.Redact(location)}");
            if (lockDays is not null)
            {
                Console.WriteLine($"Object Lock: every object is kept at least {lockDays} days ({lockMode} mode); deleting a version before then is refused by S3");
            }
            if (sim is not null)
            {
                Console.WriteLine($"SIMULATION: data packs behave like a cold archive: unreadable until thawed, a thaw takes {sim} (Bulk). No cloud is involved.");
            }
            Console.WriteLine("Keep your passphrase safe: without it the data cannot be recovered.");
        }
        return ExitCodes.Ok;
    }
}

internal static class Units
{
    public static TimeSpan ParseDuration(string s, string option)
    {
        s = s.Trim();
        if (s.Length >= 2)
        {
            string num = s[..^1];
            if (double.TryParse(num, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double v) && v >= 0)
            {
                switch (s[^1])
                {
                    case 's': return TimeSpan.FromSeconds(v);
                    case 'm': return TimeSpan.FromMinutes(v);
                    case 'h': return TimeSpan.FromHours(v);
                    case 'd': return TimeSpan.FromDays(v);
                }
            }
        }
        if (double.TryParse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double secs) && secs >= 0)
        {
            return TimeSpan.FromSeconds(secs);
        }
        throw new UserInputException($"{option}: '{s}' is not a duration (examples: 30s, 15m, 12h, 2d)");
    }

    public static long ParseSize(string s, string option)
    {
        s = s.Trim();
        (string num, long mult) = s.ToUpperInvariant() switch
        {
            var x when x.EndsWith("KIB", StringComparison.Ordinal) || x.EndsWith('K') => (s.TrimEnd('B', 'b', 'I', 'i', 'K', 'k'), 1L << 10),
            var x when x.EndsWith("MIB", StringComparison.Ordinal) || x.EndsWith('M') => (s.TrimEnd('B', 'b', 'I', 'i', 'M', 'm'), 1L << 20),
            var x when x.EndsWith("GIB", StringComparison.Ordinal) || x.EndsWith('G') => (s.TrimEnd('B', 'b', 'I', 'i', 'G', 'g'), 1L << 30),
            _ => (s, 1L),
        };
        if (double.TryParse(num, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double v) && v > 0)
        {
            return (long)(v * mult);
        }
        throw new UserInputException($"{option}: '{s}' is not a size (examples: 512KiB, 16MiB, 1GiB)");
    }
}
