using System.Net.Sockets;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace Strata.Stores.Sftp;

/// <summary>
/// Opens logged-in SFTP sessions for one location: loads the keys once, offers only the host key types known_hosts holds
/// for the server, and refuses a server whose key is unknown, different or revoked before any credential is sent.
/// Every failure becomes a <see cref="StoreException"/> whose message names the server and says what to do.
/// </summary>
internal sealed class SftpConnector
{
    private readonly SftpStoreOptions _options;
    private readonly SftpLocation _location;
    private readonly List<IPrivateKeySource> _keys = [];
    private readonly List<string> _keyFiles = [];
    private readonly List<string> _keyProblems = [];

    public SftpConnector(SftpStoreOptions options)
    {
        _options = options;
        _location = options.Location;
        foreach (string file in options.KeyFiles)
        {
            try
            {
                _keys.Add(new PrivateKeyFile(file));
                _keyFiles.Add(file);
            }
            catch (SshPassPhraseNullOrEmptyException)
            {
                _keyProblems.Add($"{file} is protected by a passphrase (not supported: use a key without one for backups, or STRATA_SFTP_PASSWORD)");
            }
            catch (Exception e) when (e is SshException or IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException or InvalidOperationException)
            {
                _keyProblems.Add($"{file} could not be loaded: {e.Message}");
            }
        }
    }

    public async Task<SftpClient> ConnectAsync(CancellationToken ct)
    {
        KnownHosts knownHosts = LoadKnownHosts();
        IReadOnlyList<KnownHosts.Entry> known = knownHosts.For(_location.KnownHostsName);
        var methods = new List<AuthenticationMethod>();
        if (_keys.Count > 0)
        {
            methods.Add(new PrivateKeyAuthenticationMethod(_location.User, _keys.ToArray()));
        }
        if (_options.Password is { } password)
        {
            methods.Add(new PasswordAuthenticationMethod(_location.User, password));
        }
        if (methods.Count == 0)
        {
            throw new PermanentStoreException($"no way to log in to {_location.Server}: no key in ~/.ssh (id_ed25519, id_ecdsa, id_rsa) and neither {SftpStoreOptions.KeyVariable} nor {SftpStoreOptions.PasswordVariable} is set" + KeyProblems());
        }
        var info = new ConnectionInfo(_location.Host, _location.Port, _location.User, methods.ToArray())
        {
            Timeout = _options.ConnectTimeout,
        };
        OfferOnlyKnownKeyTypes(info, known);

        var client = new SftpClient(info) { OperationTimeout = _options.OperationTimeout };
        HostKeyVerdict? verdict = null;
        client.HostKeyReceived += (_, e) =>
        {
            verdict = Verify(known, e.HostKey);
            e.CanTrust = verdict.Trusted;
        };
        try
        {
            await client.ConnectAsync(ct).ConfigureAwait(false);
            return client;
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            client.Dispose();
            if (verdict is { Trusted: false })
            {
                throw new PermanentStoreException(verdict.Message(_location, knownHosts.File), e);
            }
            throw ClassifyConnectError(e);
        }
    }

    private KnownHosts LoadKnownHosts()
    {
        try
        {
            return KnownHosts.Load(_options.KnownHostsFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PermanentStoreException($"cannot read the known hosts file {_options.KnownHostsFile}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Like ssh, asks the server for a key of a type known_hosts has for it, so a server with several host keys shows the
    /// one we can check. With nothing known, every type stays on offer (the key is then refused as unknown).
    /// </summary>
    private static void OfferOnlyKnownKeyTypes(ConnectionInfo info, IReadOnlyList<KnownHosts.Entry> known)
    {
        var types = known.Where(e => !e.Revoked).Select(e => e.KeyType).ToHashSet(StringComparer.Ordinal);
        if (types.Count == 0)
        {
            return;
        }
        foreach (string algorithm in info.HostKeyAlgorithms.Keys.ToList())
        {
            if (!types.Contains(KeyTypeOfAlgorithm(algorithm)))
            {
                info.HostKeyAlgorithms.Remove(algorithm);
            }
        }
    }

    /// <summary>rsa-sha2-256/512 sign with an ssh-rsa key; certificate algorithms are not offered (no CA support).</summary>
    private static string KeyTypeOfAlgorithm(string algorithm) => algorithm switch
    {
        "rsa-sha2-512" or "rsa-sha2-256" => "ssh-rsa",
        _ when algorithm.Contains("-cert-", StringComparison.Ordinal) => "",
        _ => algorithm,
    };

    internal static HostKeyVerdict Verify(IReadOnlyList<KnownHosts.Entry> known, byte[] presented)
    {
        if (known.FirstOrDefault(e => e.Revoked && e.Key.AsSpan().SequenceEqual(presented)) is { } revoked)
        {
            return new HostKeyVerdict(HostKeyState.Revoked, presented, revoked);
        }
        if (known.FirstOrDefault(e => !e.Revoked && e.Key.AsSpan().SequenceEqual(presented)) is { } match)
        {
            return new HostKeyVerdict(HostKeyState.Trusted, presented, match);
        }
        KnownHosts.Entry? other = known.FirstOrDefault(e => !e.Revoked);
        return new HostKeyVerdict(other is null ? HostKeyState.Unknown : HostKeyState.Changed, presented, other);
    }

    private StoreException ClassifyConnectError(Exception e)
    {
        string server = _location.Server;
        return e switch
        {
            SshAuthenticationException => new PermanentStoreException(
                $"login to {server} refused ({e.Message.TrimEnd('.')}): offered {Offered()}; set {SftpStoreOptions.KeyVariable} to a key the server accepts, or {SftpStoreOptions.PasswordVariable}" + KeyProblems(), e),
            SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain } => new PermanentStoreException($"cannot find the host {_location.Host} ({e.Message})", e),
            SocketException { SocketErrorCode: SocketError.ConnectionRefused } => new TransientStoreException($"connection to {server} refused: is an SSH server running there?", e),
            SocketException s => new TransientStoreException($"cannot connect to {server}: {s.Message}", e),
            SshOperationTimeoutException or TimeoutException or OperationCanceledException => new TransientStoreException($"connecting to {server} timed out", e),
            SshConnectionException => new TransientStoreException($"connection to {server} failed: {e.Message}", e),
            SshException => new PermanentStoreException($"SSH connection to {server} failed: {e.Message}", e),
            IOException => new TransientStoreException($"connection to {server} failed: {e.Message}", e),
            _ => new TransientStoreException($"connection to {server} failed: {e.GetType().Name}: {e.Message}", e),
        };
    }

    private string Offered()
    {
        var parts = new List<string>();
        if (_keys.Count > 0)
        {
            parts.Add((_keyFiles.Count == 1 ? "the key " : "the keys ") + string.Join(", ", _keyFiles));
        }
        if (_options.Password is not null)
        {
            parts.Add("a password");
        }
        return string.Join(" and ", parts);
    }

    private string KeyProblems() => _keyProblems.Count == 0 ? "" : " (" + string.Join("; ", _keyProblems) + ")";
}

internal enum HostKeyState
{
    Trusted,
    Unknown,
    Changed,
    Revoked,
}

internal sealed record HostKeyVerdict(HostKeyState State, byte[] Presented, KnownHosts.Entry? Entry)
{
    public bool Trusted => State == HostKeyState.Trusted;

    public string Message(SftpLocation location, string knownHostsFile)
    {
        string name = location.KnownHostsName;
        string presented = $"{KnownHosts.KeyTypeOf(Presented)} {KnownHosts.Fingerprint(Presented)}";
        string keyscan = location.Port == SftpLocation.DefaultPort
            ? $"ssh-keyscan {location.Host} >> {knownHostsFile}"
            : $"ssh-keyscan -p {location.Port} {location.Host} >> {knownHostsFile}";
        return State switch
        {
            HostKeyState.Unknown =>
                $"the host key of {name} is not known: {knownHostsFile} has no key for it. The server offered {presented}. " +
                $"Check that fingerprint with the server's administrator, then add the key: {keyscan} (or set {SftpStoreOptions.KnownHostsVariable} to another known_hosts file)",
            HostKeyState.Changed =>
                $"HOST KEY MISMATCH for {name}: the server offered {presented}, but {knownHostsFile} line {Entry!.Line} holds {Entry.KeyType} {KnownHosts.Fingerprint(Entry.Key)}. " +
                $"Someone may be intercepting the connection; nothing was sent. If the server's key was changed on purpose, remove the old key (ssh-keygen -R '{name}' -f {knownHostsFile}) and add the new one",
            HostKeyState.Revoked =>
                $"the host key of {name} ({presented}) is marked @revoked in {knownHostsFile} line {Entry!.Line}: refusing to connect",
            _ => "",
        };
    }
}
