using System.Text.Json;
using Strata.EndToEnd.Infrastructure;

namespace Strata.EndToEnd;

/// <summary>Passphrases: adding, listing, removing keys, and a wrong passphrase.</summary>
public sealed class KeyTests : IDisposable
{
    private const string SecondPassword = "a second, different passphrase";

    private readonly Sandbox _box = new("keys");

    public void Dispose() => _box.Dispose();

    private string PasswordFile(string name, string password)
    {
        string f = Path.Combine(_box.Root, name);
        File.WriteAllText(f, password + "\n");
        return f;
    }

    private async Task<List<JsonElement>> KeyListAsync(string password)
    {
        CliResult r = await _box.StrataWith(_box.Env(password), "key", "list", "--json");
        CliAssert.Ok(r);
        return r.JsonLines();
    }

    [Fact]
    public async Task A_second_key_opens_the_repository_and_the_first_can_then_be_removed()
    {
        _box.Write("f.txt", "content\n");
        await _box.InitAsync();
        CliAssert.Ok(await _box.Strata("backup", _box.Source));

        CliResult add = await _box.Strata("key", "add", "--new-password-file", PasswordFile("pw2", SecondPassword));
        CliAssert.Ok(add);

        // the new passphrase reads everything
        var second = _box.Env(SecondPassword);
        CliResult snaps = await _box.StrataWith(second, "snapshots", "--json");
        CliAssert.Ok(snaps);
        Assert.Equal(1, JsonDocument.Parse(snaps.Stdout).RootElement.GetArrayLength());
        CliResult dump = await _box.StrataWith(second, "dump", "latest", Path.Combine(_box.Source, "f.txt"));
        CliAssert.Ok(dump);
        Assert.Equal("content\n", dump.Stdout);

        var keys = await KeyListAsync(SecondPassword);
        Assert.Equal(2, keys.Count);
        Assert.All(keys, k => Assert.Equal("owner", k.GetProperty("role").GetString(), StringComparer.OrdinalIgnoreCase));
        JsonElement current = Assert.Single(keys, k => k.GetProperty("current").GetBoolean());
        JsonElement other = Assert.Single(keys, k => !k.GetProperty("current").GetBoolean());

        CliResult text = await _box.StrataWith(second, "key", "list");
        CliAssert.Ok(text);
        Assert.Contains(current.GetProperty("id").GetString()![..8], text.Stdout, StringComparison.Ordinal);
        Assert.Contains(other.GetProperty("id").GetString()![..8], text.Stdout, StringComparison.Ordinal);

        // the key in use cannot be removed; the other one can
        CliAssert.FailsCleanly(2, await _box.StrataWith(second, "key", "remove", current.GetProperty("id").GetString()![..8]), "in use");
        CliResult remove = await _box.StrataWith(second, "key", "remove", other.GetProperty("id").GetString()![..8]);
        CliAssert.Ok(remove);
        Assert.Single(await KeyListAsync(SecondPassword));

        // the removed passphrase no longer opens the repository; the remaining one still does
        CliAssert.FailsCleanly(12, await _box.Strata("snapshots"), "password");
        CliAssert.Ok(await _box.StrataWith(second, "snapshots"));
    }

    [Fact]
    public async Task The_last_owner_key_cannot_be_removed()
    {
        await _box.InitAsync();
        CliAssert.Ok(await _box.Strata("key", "add", "--writer", "--new-password-file", PasswordFile("w", "writer pass")));
        var keys = await KeyListAsync(Sandbox.Password);
        JsonElement writer = Assert.Single(keys, k => k.GetProperty("role").GetString()!.Equals("writer", StringComparison.OrdinalIgnoreCase));
        JsonElement owner = Assert.Single(keys, k => k.GetProperty("role").GetString()!.Equals("owner", StringComparison.OrdinalIgnoreCase));
        // with the writer passphrase: not allowed at all (needs the owner key)
        CliAssert.FailsCleanly(13, await _box.StrataWith(_box.Env("writer pass"), "key", "remove", owner.GetProperty("id").GetString()![..8]), "owner key");
        // the owner may remove the writer key
        CliAssert.Ok(await _box.Strata("key", "remove", writer.GetProperty("id").GetString()![..8]));
        Assert.Single(await KeyListAsync(Sandbox.Password));
    }

    [Fact]
    public async Task A_wrong_passphrase_exits_12_with_a_message_and_no_stack_trace()
    {
        _box.Write("f.txt", "x");
        await _box.InitAsync();
        CliAssert.Ok(await _box.Strata("backup", _box.Source));
        var wrong = _box.Env("not the passphrase");
        foreach (string[] args in new[] { ["snapshots"], ["backup", _box.Source], ["restore", "latest", "--target", Path.Combine(_box.Root, "t")], ["check"], ["key", "list"], new[] { "key", "add", "--new-password-file", PasswordFile("p", "other") } })
        {
            CliAssert.FailsCleanly(12, await _box.StrataWith(wrong, args), "password");
        }
        Assert.False(Directory.Exists(Path.Combine(_box.Root, "t")), "a restore with a wrong passphrase created its target");
        // and nothing was added: still one key, one snapshot
        Assert.Single(await KeyListAsync(Sandbox.Password));
    }

    [Fact]
    public async Task Without_any_passphrase_source_the_cli_fails_instead_of_waiting_for_a_prompt()
    {
        await _box.InitAsync();
        CliAssert.FailsCleanly(2, await _box.StrataWith(_box.Env(password: null), "snapshots"), "passphrase");
    }

    [Fact]
    public async Task A_password_file_works_like_the_environment_variable()
    {
        _box.Write("f.txt", "x");
        await _box.InitAsync();
        var env = _box.Env(password: null);
        CliResult r = await _box.StrataWith(env, "--password-file", PasswordFile("pwfile", Sandbox.Password), "snapshots");
        CliAssert.Ok(r);
        CliAssert.FailsCleanly(2, await _box.StrataWith(env, "--password-file", Path.Combine(_box.Root, "missing"), "snapshots"), "password file");
    }
}
