using System.Diagnostics;
using Renci.SshNet;
using Renci.SshNet.Sftp;
using Strata.Stores;
using Strata.Stores.Sftp;

namespace Strata.Conformance;

/// <summary>
/// The SFTP store against a real OpenSSH server on loopback (scripts/services/sshd.sh): the whole conformance suite,
/// plus what only SFTP has: the folder layout, host keys, logins, missing and forbidden folders, a server killed or a
/// connection cut in the middle of an upload. Each test uses its own folder in the class's folder.
/// </summary>
public sealed class SftpStoreConformanceTests(SshdFixture sshd) : StoreConformanceTests, IClassFixture<SshdFixture>
{
    private readonly string _path = sshd.Folder + "/t" + Guid.NewGuid().ToString("N")[..12];
    private readonly List<string> _tempFiles = [];

    protected override async Task<IStore> CreateStoreAsync()
    {
        SftpStore store = Open();
        await store.CreateRootIfMissingAsync(Ct);
        return store;
    }

    private SftpStore Open(SftpStoreOptions? options = null)
    {
        sshd.RequireServer();
        return new SftpStore(options ?? sshd.Options(_path));
    }

    protected override Task PlantForeignObjectAsync(string path, byte[] content)
    {
        using SftpClient client = sshd.Connect();
        string full = _path + "/" + path;
        string folder = full[..full.LastIndexOf('/')];
        string current = "";
        foreach (string part in folder.Split('/'))
        {
            current = current.Length == 0 ? part : current + "/" + part;
            if (!client.Exists(current))
            {
                client.CreateDirectory(current);
            }
        }
        client.WriteAllBytes(full, content);
        return Task.CompletedTask;
    }

    private string TempFile(string content)
    {
        string file = Path.Combine(Path.GetTempPath(), "strata-sftp-test-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(file, content);
        _tempFiles.Add(file);
        return file;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        foreach (string f in _tempFiles)
        {
            File.Delete(f);
            File.Delete(f + ".pub");
            File.Delete(f + ".old"); // ssh-keygen -H keeps the unhashed file there
        }
    }

    private static async Task<string> RunAsync(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }
        using var p = Process.Start(start)!;
        string output = await p.StandardOutput.ReadToEndAsync();
        string error = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)} failed: {error}");
        return output;
    }

    // ---------------------------------------------------------------- layout

    [SkippableFact]
    public async Task Objects_AreLaidOutAsInALocalFolder()
    {
        IStore store = await StoreAsync();
        ObjectName data = new(ObjectKind.Data, "ab" + new string('0', 62));
        ObjectName index = RandomName(ObjectKind.Index);
        await WriteAsync(store, data, [1, 2, 3]);
        await WriteAsync(store, index, [4]);
        await WriteAsync(store, ObjectName.Config, [5]);

        using SftpClient client = sshd.Connect();
        Assert.Equal(new byte[] { 1, 2, 3 }, client.ReadAllBytes($"{_path}/data/ab/{data.Name}"));
        Assert.Equal(new byte[] { 4 }, client.ReadAllBytes($"{_path}/index/{index.Name}"));
        Assert.Equal(new byte[] { 5 }, client.ReadAllBytes($"{_path}/config"));
        // No temporary file is left after successful writes.
        Assert.DoesNotContain(client.ListDirectory($"{_path}/data/ab"), f => f.Name.StartsWith(SftpStore.TempPrefix, StringComparison.Ordinal));
        Assert.Equal(store.Properties, new StoreProperties(Connections: 4, HasColdTier: false, PriceProvider: "local"));
        Assert.Equal($"sftp://stratatest@127.0.0.1:2222/{_path}", store.Location);
    }

    [SkippableFact]
    public async Task AWrite_IsRefusedWhenAnotherWriterCreatedTheObjectDuringItsUpload()
    {
        IStore store = await StoreAsync();
        ObjectName name = RandomName(ObjectKind.Data);
        byte[] theirs = RandomBytes(3000, 41);
        byte[] ours = RandomBytes(3 * MiB, 42);
        // Our bytes are uploaded under a temporary name; before the rename, another writer creates the object.
        using var content = new TriggerStream(ours, ours.Length, () => WriteAsync(store, name, theirs));
        await Assert.ThrowsAsync<ObjectExistsException>(() => store.WriteAsync(name, content, Ct));
        Assert.True(content.Triggered);
        Assert.Equal(theirs, await ReadAllAsync(store, name, 0, theirs.Length));
        Assert.Equal(theirs.Length, (await store.StatAsync(name, Ct))?.Length);
    }

    // ---------------------------------------------------------------- host keys and logins

    [SkippableFact]
    public async Task AnUnknownHostKey_IsRefused_SayingHowToAddIt()
    {
        sshd.RequireServer();
        string knownHosts = TempFile("# nothing known\nexample.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEFeqzOIZTzuVxcicNBejAR0bTv2aQ+7dp5xJk4s+1fg\n");
        await using SftpStore store = Open(sshd.Options(_path, knownHosts: knownHosts));
        var e = await Assert.ThrowsAsync<PermanentStoreException>(() => store.StatAsync(ObjectName.Config, Ct));
        Assert.Contains("the host key of [127.0.0.1]:2222 is not known", e.Message, StringComparison.Ordinal);
        Assert.Contains($"ssh-keyscan -p 2222 127.0.0.1 >> {knownHosts}", e.Message, StringComparison.Ordinal);
        string fingerprint = (await RunAsync("ssh-keygen", "-l", "-f", sshd.KnownHostsFile)).Split(' ')[1];
        Assert.Contains(fingerprint, e.Message, StringComparison.Ordinal);

        // A missing known_hosts file is the same: nothing known.
        await using SftpStore noFile = Open(sshd.Options(_path, knownHosts: knownHosts + ".missing"));
        e = await Assert.ThrowsAsync<PermanentStoreException>(() => noFile.StatAsync(ObjectName.Config, Ct));
        Assert.Contains("is not known", e.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task AChangedHostKey_IsRefusedLoudly()
    {
        sshd.RequireServer();
        // Another ed25519 key under the server's name, as after a server swap or in a man-in-the-middle.
        string other = TempFile("");
        File.Delete(other);
        await RunAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other);
        string otherKey = File.ReadAllText(other + ".pub").Split(' ')[1];
        string knownHosts = TempFile($"# first line\n[127.0.0.1]:2222 ssh-ed25519 {otherKey}\n");
        await using SftpStore store = Open(sshd.Options(_path, knownHosts: knownHosts));
        var e = await Assert.ThrowsAsync<PermanentStoreException>(() => WriteAsync(store, ObjectName.Config, [1]));
        Assert.StartsWith("HOST KEY MISMATCH for [127.0.0.1]:2222", e.Message, StringComparison.Ordinal);
        Assert.Contains($"{knownHosts} line 2", e.Message, StringComparison.Ordinal);
        Assert.Contains("ssh-keygen -R '[127.0.0.1]:2222'", e.Message, StringComparison.Ordinal);

        // Through the retry decorator it fails at once: nothing about it is transient.
        var retries = 0;
        await using var retrying = new RetryingStore(Open(sshd.Options(_path, knownHosts: knownHosts)), FastRetries(), onRetry: _ => retries++);
        await Assert.ThrowsAsync<PermanentStoreException>(() => retrying.StatAsync(ObjectName.Config, Ct));
        Assert.Equal(0, retries);
    }

    [SkippableFact]
    public async Task HashedAndWildcardKnownHostsEntries_AreAccepted_AndRevokedKeysRefused()
    {
        sshd.RequireServer();
        string key = sshd.HostKeyLine[(sshd.HostKeyLine.IndexOf(' ') + 1)..];
        // ssh-keygen -H hashes the names as OpenSSH's HashKnownHosts does: the real tool is the oracle of the format.
        string hashed = TempFile($"[127.0.0.1]:2222 {key}\n");
        await RunAsync("ssh-keygen", "-H", "-f", hashed);
        Assert.StartsWith("|1|", File.ReadAllText(hashed), StringComparison.Ordinal);
        string wildcard = TempFile($"otherhost,[127.0.0.?]:2222,!example.org {key}\n");
        foreach (string file in new[] { hashed, wildcard })
        {
            await using SftpStore store = Open(sshd.Options(_path, knownHosts: file));
            await store.CreateRootIfMissingAsync(Ct);
            await WriteAsync(store, RandomName(ObjectKind.Keys), [1]);
        }

        string revoked = TempFile($"[127.0.0.1]:2222 {key}\n@revoked * {key}\n");
        await using SftpStore refused = Open(sshd.Options(_path, knownHosts: revoked));
        var e = await Assert.ThrowsAsync<PermanentStoreException>(() => refused.StatAsync(ObjectName.Config, Ct));
        Assert.Contains("is marked @revoked", e.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task AWrongKey_IsRefusedWithAClearMessage()
    {
        sshd.RequireServer();
        string key = TempFile("");
        File.Delete(key);
        await RunAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key);
        await using var store = new RetryingStore(Open(sshd.Options(_path) with { KeyFiles = [key] }), FastRetries());
        var e = await Assert.ThrowsAsync<PermanentStoreException>(() => store.StatAsync(ObjectName.Config, Ct));
        Assert.StartsWith("login to stratatest@127.0.0.1:2222 refused", e.Message, StringComparison.Ordinal);
        Assert.Contains($"the key {key}", e.Message, StringComparison.Ordinal);
        Assert.Contains("STRATA_SFTP_KEY", e.Message, StringComparison.Ordinal);

        // A file that is not a key is named too.
        string junk = TempFile("not a key");
        await using var junkStore = Open(sshd.Options(_path) with { KeyFiles = [junk] });
        e = await Assert.ThrowsAsync<PermanentStoreException>(() => junkStore.StatAsync(ObjectName.Config, Ct));
        Assert.Contains($"{junk} could not be loaded", e.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task APassword_LogsIn_AndAWrongOneIsRefused()
    {
        sshd.RequireServer();
        await using (SftpStore store = Open(sshd.Options(_path) with { KeyFiles = [], Password = SshdFixture.Password }))
        {
            await store.CreateRootIfMissingAsync(Ct);
            await WriteAsync(store, ObjectName.Config, [7, 8]);
            Assert.Equal(new byte[] { 7, 8 }, await ReadAllAsync(store, ObjectName.Config, 0, 2));
        }
        await using SftpStore wrong = Open(sshd.Options(_path) with { KeyFiles = [], Password = "wrong-password-93a1" });
        var e = await Assert.ThrowsAsync<PermanentStoreException>(() => wrong.StatAsync(ObjectName.Config, Ct));
        Assert.StartsWith("login to stratatest@127.0.0.1:2222 refused", e.Message, StringComparison.Ordinal);
        Assert.Contains("offered a password; set STRATA_SFTP_KEY", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-password-93a1", e.Message, StringComparison.Ordinal);
    }

    // ---------------------------------------------------------------- folders

    [SkippableFact]
    public async Task AMissingRepositoryFolder_IsAPermanentErrorNamingHostAndPath()
    {
        await using SftpStore store = Open(sshd.Options(_path + "/no/such/folder"));
        Assert.Null(await store.StatAsync(ObjectName.Config, Ct));
        Assert.Empty(await ListAllAsync(store, ObjectKind.Snapshots));
        var e = await Assert.ThrowsAsync<PermanentStoreException>(() => WriteAsync(store, RandomName(ObjectKind.Keys), [1]));
        Assert.Equal($"the repository folder {_path}/no/such/folder does not exist on stratatest@127.0.0.1:2222 (create it, or run strata init)", e.Message);
    }

    [SkippableFact]
    public async Task AForbiddenFolder_IsAPermanentPermissionError()
    {
        // /root is not readable by the test user.
        await using var store = new RetryingStore(Open(sshd.Options("/root/strata-test")), FastRetries());
        var e = await Assert.ThrowsAsync<PermanentStoreException>(() => WriteAsync(store, RandomName(ObjectKind.Keys), [1]));
        Assert.Contains("permission denied", e.Message, StringComparison.Ordinal);
        Assert.Contains("/root/strata-test", e.Message, StringComparison.Ordinal);
        Assert.Contains("stratatest@127.0.0.1:2222", e.Message, StringComparison.Ordinal);
        await using SftpStore init = Open(sshd.Options("/root/strata-test"));
        e = await Assert.ThrowsAsync<PermanentStoreException>(() => init.CreateRootIfMissingAsync(Ct));
        Assert.Contains("permission denied", e.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task CreateRootIfMissing_CreatesParents_AndAcceptsAnExistingFolder()
    {
        await using SftpStore store = Open(sshd.Options(_path + "/a/b"));
        await store.CreateRootIfMissingAsync(Ct);
        await store.CreateRootIfMissingAsync(Ct);
        await WriteAsync(store, ObjectName.Config, [1]);
        using SftpClient client = sshd.Connect();
        Assert.True(client.Exists(_path + "/a/b/config"));
    }

    // ---------------------------------------------------------------- crashes and dropped connections

    [SkippableFact]
    public async Task AServerKilledMidUpload_LeavesNoVisiblePartialObject()
    {
        sshd.RequireServer();
        using OwnSshd own = await OwnSshd.StartAsync(sshd);
        await using SftpStore store = Open(sshd.Options(_path, own.Port, own.KnownHostsFile) with { Connections = 1 });
        await store.CreateRootIfMissingAsync(Ct);
        ObjectName name = RandomName(ObjectKind.Data);
        byte[] content = RandomBytes(24 * MiB, 43);
        using var stream = new TriggerStream(content, 8 * MiB, () =>
        {
            own.Kill();
            return Task.CompletedTask;
        });
        await Assert.ThrowsAsync<TransientStoreException>(() => store.WriteAsync(name, stream, Ct));
        Assert.True(stream.Triggered);

        // Seen through the service's server (same folder): nothing under the name, nothing listed.
        await using SftpStore after = Open();
        Assert.Null(await after.StatAsync(name, Ct));
        Assert.Empty(await ListAllAsync(after, ObjectKind.Data));
        using SftpClient client = sshd.Connect();
        string folder = $"{_path}/data/{name.Name[..2]}";
        List<ISftpFile> files = client.ListDirectory(folder).Where(f => f.IsRegularFile).ToList();
        Assert.All(files, f => Assert.StartsWith(SftpStore.TempPrefix, f.Name, StringComparison.Ordinal));
        Assert.True(files.Sum(f => f.Length) < content.Length, "only a partial temporary file can be left");

        // The same write later succeeds: the stray temporary file is in no one's way.
        await WriteAsync(after, name, content);
        Assert.Equal(content, await ReadAllAsync(after, name, 0, content.Length));
    }

    [SkippableFact]
    public async Task ADroppedConnection_IsRetried()
    {
        sshd.RequireServer();
        using OwnSshd own = await OwnSshd.StartAsync(sshd);
        await using SftpStore store = Open(sshd.Options(_path, own.Port, own.KnownHostsFile) with { Connections = 2 });
        await store.CreateRootIfMissingAsync(Ct);
        var retries = new List<StoreRetry>();
        await using var retrying = new RetryingStore(store, FastRetries(), onRetry: r => { lock (retries) { retries.Add(r); } });

        // Cut in the middle of an upload: the write fails once, is retried on a new connection, and lands whole.
        ObjectName name = RandomName(ObjectKind.Data);
        byte[] content = RandomBytes(16 * MiB, 44);
        int killed = 0;
        using var stream = new TriggerStream(content, 6 * MiB, () =>
        {
            killed = own.KillSessions();
            return Task.CompletedTask;
        });
        await retrying.WriteAsync(name, stream, Ct);
        Assert.True(killed > 0, "the upload's connection had server processes to kill");
        Assert.Contains(retries, r => r.Operation == "write" && r.Error is TransientStoreException);
        Assert.Equal(content, await ReadAllAsync(retrying, name, 0, content.Length));

        // Cut while the pooled sessions are idle: the next operations reconnect (or retry once) and succeed.
        Assert.True(own.KillSessions() > 0);
        Assert.Equal(content.Length, (await retrying.StatAsync(name, Ct))?.Length);
        Assert.Single(await ListAllAsync(retrying, ObjectKind.Data));
    }

    /// <summary>A seekable stream over bytes that runs an action once, the first time a read reaches <paramref name="at"/> bytes.</summary>
    private sealed class TriggerStream(byte[] bytes, long at, Func<Task> action) : Stream
    {
        private readonly MemoryStream _inner = new(bytes, writable: false);

        public bool Triggered { get; private set; }

        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => _inner.Length;

        public override long Position
        {
            get => _inner.Position;
            set => _inner.Position = value;
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = _inner.Read(buffer, offset, count);
            if (ShouldTrigger(n))
            {
                action().GetAwaiter().GetResult();
            }
            return n;
        }

        public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            int n = _inner.Read(buffer, offset, count);
            if (ShouldTrigger(n))
            {
                await action();
            }
            return n;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int n = _inner.Read(buffer.Span);
            if (ShouldTrigger(n))
            {
                await action();
            }
            return n;
        }

        private bool ShouldTrigger(int n)
        {
            if (Triggered || _inner.Position < at || (n == 0 && at < _inner.Length))
            {
                return false;
            }
            Triggered = true;
            return true;
        }

        public override long Seek(long offset, SeekOrigin origin) => _inner.Seek(offset, origin);
        public override void Flush() { }
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            _inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
