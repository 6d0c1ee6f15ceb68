namespace Strata.Stores.Sftp;

/// <summary>
/// How to reach and log in to an SFTP repository. <see cref="FromEnvironment"/> fills it as the CLI does:
/// keys from <c>STRATA_SFTP_KEY</c> or ~/.ssh (id_ed25519, id_ecdsa, id_rsa), a password from <c>STRATA_SFTP_PASSWORD</c>,
/// host keys from <c>STRATA_SFTP_KNOWN_HOSTS</c> or ~/.ssh/known_hosts.
/// </summary>
/// <param name="KeyFiles">Private key files to offer, in order; files that cannot be loaded are reported when no method succeeds.</param>
/// <param name="Connections">How many SFTP sessions (SSH connections) run at once; one operation per session.</param>
public sealed record SftpStoreOptions(
    SftpLocation Location,
    IReadOnlyList<string> KeyFiles,
    string? Password,
    string KnownHostsFile,
    int Connections = 4)
{
    /// <summary>How long connecting (TCP, key exchange, login) may take.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>How long one SFTP request may wait for its answer before the session counts as dropped.</summary>
    public TimeSpan OperationTimeout { get; init; } = TimeSpan.FromMinutes(2);

    public const string KeyVariable = "STRATA_SFTP_KEY";
    public const string PasswordVariable = "STRATA_SFTP_PASSWORD";
    public const string KnownHostsVariable = "STRATA_SFTP_KNOWN_HOSTS";

    /// <summary>The keys ssh tries by default that SSH.NET can use.</summary>
    public static readonly string[] DefaultKeyNames = ["id_ed25519", "id_ecdsa", "id_rsa"];

    /// <summary>Parses the location and takes credentials and known hosts from the environment and ~/.ssh.</summary>
    /// <exception cref="ArgumentException">The location is malformed, or STRATA_SFTP_KEY names a file that does not exist.</exception>
    public static SftpStoreOptions FromEnvironment(string location, Func<string, string?>? getEnv = null, string? home = null)
    {
        getEnv ??= Environment.GetEnvironmentVariable;
        home ??= Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        SftpLocation parsed = SftpLocation.Parse(location);
        string sshDir = Path.Combine(home, ".ssh");

        List<string> keys;
        if (getEnv(KeyVariable) is { Length: > 0 } keyFile)
        {
            if (!File.Exists(keyFile))
            {
                throw new ArgumentException($"{KeyVariable}={keyFile}: no such file");
            }
            keys = [keyFile];
        }
        else
        {
            keys = DefaultKeyNames.Select(n => Path.Combine(sshDir, n)).Where(File.Exists).ToList();
        }
        string? password = getEnv(PasswordVariable) is { Length: > 0 } p ? p : parsed.Password;
        string knownHosts = getEnv(KnownHostsVariable) is { Length: > 0 } k ? k : Path.Combine(sshDir, "known_hosts");
        return new SftpStoreOptions(parsed, keys, password, knownHosts);
    }
}
