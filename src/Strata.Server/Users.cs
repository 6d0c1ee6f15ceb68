using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Strata.Crypto;

namespace Strata.Server;

/// <summary>What a login may do in one repository. See <see cref="Access"/> for the exact rules.</summary>
public enum Role
{
    /// <summary>Creates new objects; reads only what deduplication and versioning need; deletes only its own locks.</summary>
    [JsonStringEnumMemberName("writer")]
    Writer,
    /// <summary>A writer that may read everything (restores).</summary>
    [JsonStringEnumMemberName("reader")]
    Reader,
    /// <summary>Everything, deletion included (forget, prune, purge).</summary>
    [JsonStringEnumMemberName("admin")]
    Admin,
}

/// <summary>One user of the server: an Argon2id password hash and a role per repository prefix ("*" for every repository).</summary>
public sealed record ServerUser(string Name, string Hash, Dictionary<string, Role> Roles)
{
    public Role? RoleFor(string prefix) =>
        Roles.TryGetValue(prefix, out Role r) ? r : Roles.TryGetValue("*", out Role any) ? any : null;
}

internal sealed record UsersFile(int Version, List<ServerUser> Users);

/// <summary>
/// The users file (JSON): names, password hashes (Argon2id via libsodium, 19 MiB, 2 passes, 16-byte salt) and roles.
/// Verification costs one Argon2id run per login; a successful login is remembered (as an HMAC under a per-process
/// key, never the password) so a client's thousands of requests do not each pay it.
/// </summary>
public sealed class UserDatabase
{
    private const int MemoryKiB = 19 * 1024;
    private const int Passes = 2;
    private static readonly byte[] ProcessKey = RandomNumberGenerator.GetBytes(32);
    private readonly Dictionary<string, ServerUser> _users;
    private readonly ConcurrentDictionary<string, byte[]> _verified = new(StringComparer.Ordinal);

    private UserDatabase(IEnumerable<ServerUser> users) => _users = users.ToDictionary(u => u.Name, StringComparer.Ordinal);

    public IReadOnlyCollection<ServerUser> Users => _users.Values;

    public static UserDatabase Empty() => new([]);

    /// <summary>Loads a users file; a missing file is an empty database (so 'users add' can create it).</summary>
    public static UserDatabase Load(string path, bool mustExist)
    {
        if (!File.Exists(path))
        {
            if (mustExist)
            {
                throw new Repository.UserInputException($"users file {path} does not exist; create it with 'strata serve users add NAME --users {path} --role writer'");
            }
            return Empty();
        }
        try
        {
            UsersFile? file = JsonSerializer.Deserialize(File.ReadAllText(path), ServerJson.Default.UsersFile);
            if (file?.Users is null)
            {
                throw new Repository.UserInputException($"users file {path} is empty or not a users file");
            }
            return new UserDatabase(file.Users);
        }
        catch (JsonException e)
        {
            throw new Repository.UserInputException($"users file {path} is not valid JSON: {e.Message}");
        }
    }

    /// <summary>Writes the file atomically with mode 0600.</summary>
    public void Save(string path)
    {
        string full = Path.GetFullPath(path);
        string tmp = full + ".tmp";
        var file = new UsersFile(1, _users.Values.OrderBy(u => u.Name, StringComparer.Ordinal).ToList());
        File.WriteAllText(tmp, JsonSerializer.Serialize(file, ServerJson.Default.UsersFile));
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(tmp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        File.Move(tmp, full, overwrite: true);
    }

    public void Set(string name, string password, Dictionary<string, Role> roles)
    {
        if (string.IsNullOrEmpty(name) || name.Contains(':', StringComparison.Ordinal) || name.Any(char.IsControl))
        {
            throw new Repository.UserInputException($"'{name}' is not a valid user name (no ':' and no control characters)");
        }
        if (password.Length == 0)
        {
            throw new Repository.UserInputException("an empty password is not allowed");
        }
        _users[name] = new ServerUser(name, HashPassword(password), roles);
        _verified.TryRemove(name, out _);
    }

    public bool Remove(string name) => _users.Remove(name);

    /// <summary>The user when the password is right; null for an unknown user or a wrong password (the caller says no more).</summary>
    public ServerUser? Authenticate(string name, string password)
    {
        byte[] mark = HMACSHA256.HashData(ProcessKey, Encoding.UTF8.GetBytes(name + "\0" + password));
        if (!_users.TryGetValue(name, out ServerUser? user))
        {
            // Spend the same work as for a real user so timing does not tell which names exist.
            _ = VerifyPassword(password, "argon2id$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
            return null;
        }
        if (_verified.TryGetValue(name, out byte[]? known) && CryptographicOperations.FixedTimeEquals(known, mark))
        {
            return user;
        }
        if (!VerifyPassword(password, user.Hash))
        {
            return null;
        }
        _verified[name] = mark;
        return user;
    }

    /// <summary>"argon2id$m=19456,t=2$SALT$HASH" with base64 salt and hash.</summary>
    public static string HashPassword(string password)
    {
        byte[] salt = RandomNumberGenerator.GetBytes(PasswordKdf.SaltSize);
        byte[] hash = PasswordKdf.Derive(password, salt, MemoryKiB, Passes);
        return $"argon2id$m={MemoryKiB},t={Passes}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}";
    }

    public static bool VerifyPassword(string password, string encoded)
    {
        string[] parts = encoded.Split('$');
        int memory = MemoryKiB, passes = Passes;
        if (parts.Length == 4 && parts[0] == "argon2id")
        {
            foreach (string kv in parts[1].Split(','))
            {
                if (kv.StartsWith("m=", StringComparison.Ordinal) && int.TryParse(kv[2..], out int m))
                {
                    memory = m;
                }
                else if (kv.StartsWith("t=", StringComparison.Ordinal) && int.TryParse(kv[2..], out int t))
                {
                    passes = t;
                }
            }
            parts = [parts[0], parts[2], parts[3]];
        }
        if (parts.Length != 3 || parts[0] != "argon2id" || memory is < 8 or > 1 << 22 || passes is < 1 or > 64)
        {
            return false;
        }
        try
        {
            byte[] salt = Convert.FromBase64String(parts[1]);
            byte[] expected = Convert.FromBase64String(parts[2]);
            if (salt.Length != PasswordKdf.SaltSize || expected.Length != 32)
            {
                return false;
            }
            return CryptographicOperations.FixedTimeEquals(PasswordKdf.Derive(password, salt, memory, passes), expected);
        }
        catch (FormatException)
        {
            return false;
        }
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true, UseStringEnumConverter = true)]
[JsonSerializable(typeof(UsersFile))]
internal sealed partial class ServerJson : JsonSerializerContext;
