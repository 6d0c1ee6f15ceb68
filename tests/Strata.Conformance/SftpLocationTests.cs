using Strata.Stores.Sftp;

namespace Strata.Conformance;

/// <summary>restic's sftp: location forms, what each means, and clear refusals of the ones that cannot work.</summary>
public sealed class SftpLocationTests
{
    [Theory]
    [InlineData("sftp:alice@backup.example.org:/srv/restic-repo", "alice", "backup.example.org", 22, "/srv/restic-repo")]
    [InlineData("sftp:alice@backup.example.org:restic-repo", "alice", "backup.example.org", 22, "restic-repo")]
    [InlineData("sftp:alice@backup.example.org:backups/repo/", "alice", "backup.example.org", 22, "backups/repo")]
    [InlineData("sftp:backup.example.org:/srv/repo", "localuser", "backup.example.org", 22, "/srv/repo")]
    [InlineData("sftp:alice@example.com@host:/srv/repo", "alice@example.com", "host", 22, "/srv/repo")]
    [InlineData("sftp:alice@[::1]:/srv/repo", "alice", "::1", 22, "/srv/repo")]
    [InlineData("sftp:alice@host:/", "alice", "host", 22, "/")]
    [InlineData("sftp://alice@host:2222//srv/repo", "alice", "host", 2222, "/srv/repo")]
    [InlineData("sftp://alice@host:2222/repo", "alice", "host", 2222, "repo")]
    [InlineData("sftp://alice@host//srv/repo", "alice", "host", 22, "/srv/repo")]
    [InlineData("sftp://host/repo/./sub", "localuser", "host", 22, "repo/sub")]
    [InlineData("sftp://al%40ice@host:22/my%20repo", "al@ice", "host", 22, "my repo")]
    [InlineData("sftp://alice@[fe80::1]:2200//srv/repo", "alice", "fe80::1", 2200, "/srv/repo")]
    public void Parses_ResticsForms(string text, string user, string host, int port, string path)
    {
        SftpLocation location = SftpLocation.Parse(text, defaultUser: "localuser");
        Assert.Equal((user, host, port, path, (string?)null), (location.User, location.Host, location.Port, location.Path, location.Password));
    }

    [Theory]
    [InlineData("sftp:alice@host:/srv/repo", "sftp:alice@host:/srv/repo")]
    [InlineData("sftp:alice@host:repo", "sftp:alice@host:repo")]
    [InlineData("sftp://alice@host:2222//srv/repo", "sftp://alice@host:2222//srv/repo")]
    [InlineData("sftp://alice@host:2222/repo", "sftp://alice@host:2222/repo")]
    [InlineData("sftp://alice:s3cret@host:2222/repo", "sftp://alice@host:2222/repo")]
    [InlineData("sftp://alice@host:22//srv/repo", "sftp:alice@host:/srv/repo")]
    [InlineData("sftp:alice@[::1]:/srv/repo", "sftp:alice@[::1]:/srv/repo")]
    public void Display_RoundTrips_WithoutThePassword(string text, string display)
    {
        SftpLocation location = SftpLocation.Parse(text);
        Assert.Equal(display, location.Display);
        Assert.Equal(location with { Password = null }, SftpLocation.Parse(display));
    }

    [Fact]
    public void APasswordInTheUrlForm_IsTakenAndHidden()
    {
        SftpLocation location = SftpLocation.Parse("sftp://alice:p%40ss@host/repo");
        Assert.Equal("p@ss", location.Password);
        Assert.DoesNotContain("p@ss", location.Display, StringComparison.Ordinal);
        Assert.DoesNotContain("p@ss", location.ToString().Replace("Password = p@ss", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Equal("sftp://alice:***@host/repo", SftpLocation.Redact("sftp://alice:p%40ss@host/repo"));
        Assert.Equal("sftp:alice:***@host:repo", SftpLocation.Redact("sftp:alice:secret@host:repo"));
        Assert.Equal("sftp:alice@host:/a:b", SftpLocation.Redact("sftp:alice@host:/a:b"));
    }

    [Theory]
    [InlineData("sftp:", "names no server")]
    [InlineData("sftp:alice@host", "no ':' between the host and the path")]
    [InlineData("sftp:alice@host:", "no repository path after the host")]
    [InlineData("sftp:alice@:/srv/repo", "the host is empty")]
    [InlineData("sftp:@host:/srv/repo", "the user name before '@' is empty")]
    [InlineData("sftp:alice@host:~/repo", "starts with '~'")]
    [InlineData("sftp:alice@host:/srv/../etc", "contains '..'")]
    [InlineData("sftp:alice:secret@host:/srv/repo", "set STRATA_SFTP_PASSWORD")]
    [InlineData("sftp:alice@[::1/srv/repo", "a bracketed host must be followed by ':'")]
    [InlineData("sftp://alice@host", "no path after the host")]
    [InlineData("sftp://alice@host:2222/", "no repository path after the host")]
    [InlineData("sftp://alice@host:port/repo", "'port' is not a port number (1-65535)")]
    [InlineData("sftp://alice@host:70000/repo", "'70000' is not a port number")]
    [InlineData("sftp://alice@:2222/repo", "the host is empty")]
    public void BadForms_AreRefusedWithWhatIsWrong_AndTheFormsThatWork(string text, string what)
    {
        var e = Assert.Throws<ArgumentException>(() => SftpLocation.Parse(text));
        Assert.Contains(what, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", e.Message, StringComparison.Ordinal);
        if (!what.Contains('~', StringComparison.Ordinal) && !what.Contains("..", StringComparison.Ordinal) && !what.Contains("PASSWORD", StringComparison.Ordinal))
        {
            Assert.Contains("use sftp:user@host:/absolute/path", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void KnownHostsName_IsBracketedOffPort22()
    {
        Assert.Equal("host", SftpLocation.Parse("sftp:a@host:/r").KnownHostsName);
        Assert.Equal("[host]:2222", SftpLocation.Parse("sftp://a@host:2222/r").KnownHostsName);
    }

    [Fact]
    public void Options_TakeKeysPasswordAndKnownHostsFromTheEnvironment()
    {
        string home = Path.Combine(Path.GetTempPath(), "strata-home-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(home, ".ssh"));
        try
        {
            File.WriteAllText(Path.Combine(home, ".ssh", "id_rsa"), "x");
            File.WriteAllText(Path.Combine(home, ".ssh", "id_ed25519"), "x");
            var env = new Dictionary<string, string>();
            SftpStoreOptions o = SftpStoreOptions.FromEnvironment("sftp:a@h:/r", n => env.GetValueOrDefault(n), home);
            Assert.Equal([Path.Combine(home, ".ssh", "id_ed25519"), Path.Combine(home, ".ssh", "id_rsa")], o.KeyFiles);
            Assert.Null(o.Password);
            Assert.Equal(Path.Combine(home, ".ssh", "known_hosts"), o.KnownHostsFile);

            env["STRATA_SFTP_KEY"] = Path.Combine(home, ".ssh", "id_rsa");
            env["STRATA_SFTP_PASSWORD"] = "pw";
            env["STRATA_SFTP_KNOWN_HOSTS"] = "/etc/ssh/ssh_known_hosts";
            o = SftpStoreOptions.FromEnvironment("sftp:a@h:/r", n => env.GetValueOrDefault(n), home);
            Assert.Equal([Path.Combine(home, ".ssh", "id_rsa")], o.KeyFiles);
            Assert.Equal("pw", o.Password);
            Assert.Equal("/etc/ssh/ssh_known_hosts", o.KnownHostsFile);

            env["STRATA_SFTP_KEY"] = "/no/such/key";
            var e = Assert.Throws<ArgumentException>(() => SftpStoreOptions.FromEnvironment("sftp:a@h:/r", n => env.GetValueOrDefault(n), home));
            Assert.Equal("STRATA_SFTP_KEY=/no/such/key: no such file", e.Message);
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    [Theory]
    [InlineData("host", "host", true)]
    [InlineData("HOST", "host", true)]
    [InlineData("*.example.org", "a.example.org", true)]
    [InlineData("*.example.org", "example.org", false)]
    [InlineData("[10.0.0.?]:2222", "[10.0.0.5]:2222", true)]
    [InlineData("[10.0.0.?]:2222", "[10.0.0.15]:2222", false)]
    [InlineData("*", "[h]:22", true)]
    public void KnownHostsPatterns_MatchAsSshDoes(string pattern, string name, bool matches) =>
        Assert.Equal(matches, KnownHosts.Glob(pattern, name));

    [Fact]
    public void KnownHosts_NegationAndMarkers()
    {
        const string key = "AAAAC3NzaC1lZDI1NTE5AAAAIEFeqzOIZTzuVxcicNBejAR0bTv2aQ+7dp5xJk4s+1fg";
        KnownHosts hosts = KnownHosts.Parse("f", [
            "# comment",
            $"*.example.org,!secret.example.org ssh-ed25519 {key} comment",
            $"@cert-authority *.example.org ssh-ed25519 {key}",
            $"@revoked old.example.org ssh-ed25519 {key}",
            "broken line",
            $"bad.example.org ssh-ed25519 not-base64!",
        ]);
        Assert.Equal(2, Assert.Single(hosts.For("www.example.org")).Line);
        Assert.Empty(hosts.For("secret.example.org"));
        Assert.DoesNotContain(hosts.For("bad.example.org"), e => e.Line == 6);
        Assert.Contains(hosts.For("old.example.org"), e => e.Revoked && e.Line == 4);
        Assert.Equal("ssh-ed25519", KnownHosts.KeyTypeOf(Convert.FromBase64String(key)));
    }
}
