using System.CommandLine;
using Strata.Cli.Output;
using Strata.Repository;
using Strata.Stores;

namespace Strata.Cli.Commands;

internal static class KeyCommand
{
    public static Command Create()
    {
        var cmd = new Command("key", "manage the passphrases (keys) of a repository");

        var newPw = new Option<string?>("--new-password-file") { Description = "read the new passphrase from this file (default: a prompt)" };
        var writer = new Option<bool>("--writer") { Description = "create a writer key: it can add backups and deduplicate, but cannot read, list or restore anything" };
        var add = new Command("add", "add a passphrase; with --writer a write-only key");
        add.Options.Add(newPw);
        add.Options.Add(writer);
        add.SetAction((p, ct) => GlobalOptions.Guard(async () =>
        {
            await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct, loadIndex: false);
            bool isWriter = p.GetValue(writer);
            if (!repo.Keys.CanRead && !isWriter)
            {
                throw new WriterKeyException("adding an owner key");
            }
            string pw = p.GetValue(newPw) is { } f ? GlobalOptions.ReadPasswordFile(f) : GlobalOptions.Prompt("enter the new passphrase: ");
            if (pw.Length == 0)
            {
                throw new UserInputException("an empty passphrase is not allowed");
            }
            var keys = isWriter ? repo.Keys.WriterOnly() : repo.Keys;
            var file = KeyFile.Create(keys, isWriter ? KeyRole.Writer : KeyRole.Owner, pw, Environment.MachineName, Environment.UserName, DateTimeOffset.UtcNow);
            string id = await repo.WriteObjectAsync(ObjectKind.Keys, file.ToBytes(), ct);
            Console.WriteLine($"added {(isWriter ? "writer" : "owner")} key {id[..8]}");
            return ExitCodes.Ok;
        }));

        var list = new Command("list", "list the keys");
        list.SetAction((p, ct) => GlobalOptions.Guard(async () =>
        {
            await using IStore store = GlobalOptions.OpenStore(p);
            await Repo.ReadConfigAsync(store, ct);
            var (_, current) = await Repo.UnlockAsync(store, GlobalOptions.Password(p), ct);
            var rows = new List<(string Id, KeyFile File)>();
            await foreach (ObjectInfo o in store.ListAsync(ObjectKind.Keys, ct))
            {
                rows.Add((o.Name.Name, KeyFile.Parse(await Repo.ReadWholeAsync(store, o.Name, o.Length, ct), o.Name.Path)));
            }
            rows.Sort((a, b) => a.File.Created.CompareTo(b.File.Created));
            if (p.GetValue(GlobalOptions.Json))
            {
                foreach (var (id, f) in rows)
                {
                    Format.JsonLine(new() { ["id"] = id, ["role"] = f.Role, ["host"] = f.Host, ["username"] = f.Username, ["created"] = f.Created, ["current"] = id == current });
                }
                return ExitCodes.Ok;
            }
            Console.WriteLine($" {"ID",-10} {"role",-7} {"user",-12} {"host",-20} created");
            foreach (var (id, f) in rows)
            {
                Console.WriteLine($"{(id == current ? '*' : ' ')}{id[..8],-10} {f.Role,-7} {f.Username,-12} {f.Host,-20} {f.Created.ToLocalTime():yyyy-MM-dd HH:mm:ss}");
            }
            return ExitCodes.Ok;
        }));

        var idArg = new Argument<string>("id") { Description = "key id (a unique prefix is enough)" };
        var remove = new Command("remove", "remove a key (not the one in use, and never the last owner key)");
        remove.Arguments.Add(idArg);
        remove.SetAction((p, ct) => GlobalOptions.Guard(async () =>
        {
            await using IStore store = GlobalOptions.OpenStore(p);
            await Repo.ReadConfigAsync(store, ct);
            var (keys, current) = await Repo.UnlockAsync(store, GlobalOptions.Password(p), ct);
            if (!keys.CanRead)
            {
                throw new WriterKeyException("removing a key");
            }
            string prefix = p.GetValue(idArg)!;
            var all = new List<(string Id, KeyFile File)>();
            await foreach (ObjectInfo o in store.ListAsync(ObjectKind.Keys, ct))
            {
                all.Add((o.Name.Name, KeyFile.Parse(await Repo.ReadWholeAsync(store, o.Name, o.Length, ct), o.Name.Path)));
            }
            var match = all.Where(k => k.Id.StartsWith(prefix, StringComparison.Ordinal)).ToList();
            if (match.Count != 1)
            {
                throw new UserInputException(match.Count == 0 ? $"no key with id '{prefix}'" : $"key id prefix '{prefix}' is ambiguous");
            }
            if (match[0].Id == current)
            {
                throw new UserInputException("refusing to remove the key in use; open the repository with another passphrase to remove this one");
            }
            if (match[0].File.KeyRole == KeyRole.Owner && all.Count(k => k.File.KeyRole == KeyRole.Owner) == 1)
            {
                throw new UserInputException("refusing to remove the last owner key: the repository could never be read again");
            }
            await store.DeleteAsync(new ObjectName(ObjectKind.Keys, match[0].Id), ct);
            Console.WriteLine($"removed key {match[0].Id[..8]}");
            return ExitCodes.Ok;
        }));

        cmd.Subcommands.Add(add);
        cmd.Subcommands.Add(list);
        cmd.Subcommands.Add(remove);
        return cmd;
    }
}
