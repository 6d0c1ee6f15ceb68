using System.CommandLine;
using Strata.Cli.Output;
using Strata.Platform;
using Strata.Repository;
using Strata.Snapshots;

namespace Strata.Cli.Commands;

internal static class LsCommand
{
    private static readonly Argument<string> SnapshotArg = new("snapshot") { Description = "snapshot id or 'latest'" };
    private static readonly Argument<string?> PathArg = new("path") { Arity = ArgumentArity.ZeroOrOne, Description = "list only below this absolute path" };
    private static readonly Option<bool> Long = new("--long", "-l") { Description = "show mode, owner, size and time" };

    public static Command Create()
    {
        var cmd = new Command("ls", "list the files in a snapshot (warm metadata only)");
        cmd.Arguments.Add(SnapshotArg);
        cmd.Arguments.Add(PathArg);
        cmd.Options.Add(Long);
        cmd.SetAction((p, ct) => GlobalOptions.Guard(async () =>
        {
            await using Repo repo = await GlobalOptions.OpenRepoAsync(p, ct);
            repo.RequireOwner("ls");
            SnapshotRef snap = await repo.FindSnapshotAsync(p.GetValue(SnapshotArg)!, ct);
            string start = (p.GetValue(PathArg) ?? "/").TrimEnd('/');
            Node node = await TreeOps.FindAsync(repo, snap.Snapshot, start, ct)
                ?? throw new UserInputException($"{start} is not in snapshot {snap.ShortId}");
            bool json = p.GetValue(GlobalOptions.Json);
            bool longFormat = p.GetValue(Long);
            void Print(string path, Node n)
            {
                if (json)
                {
                    Format.JsonLine(new() { ["path"] = path, ["type"] = n.Kind.ToString().ToLowerInvariant(), ["size"] = n.Size, ["mode"] = n.Mode, ["uid"] = n.Uid, ["gid"] = n.Gid, ["user"] = n.User, ["group"] = n.Group, ["mtime"] = DateTimeOffset.FromUnixTimeMilliseconds(n.MTimeNs / 1_000_000) });
                }
                else if (longFormat)
                {
                    string target = n.Kind == FileKind.Symlink ? " -> " + Posix.Display(n.LinkTarget) : "";
                    Console.WriteLine($"{Format.Mode(n.Kind, n.Mode)} {(n.User.Length > 0 ? n.User : n.Uid.ToString()),-8} {(n.Group.Length > 0 ? n.Group : n.Gid.ToString()),-8} {n.Size,12} {Format.Time(n.MTimeNs)} {path}{target}");
                }
                else
                {
                    Console.WriteLine(path);
                }
            }
            if (node.Kind != FileKind.Directory || node.Subtree is null)
            {
                Print(start, node);
                return ExitCodes.Ok;
            }
            await TreeOps.WalkAsync(repo, node.Subtree.Value, start, (path, n) =>
            {
                Print(path, n);
                return Task.FromResult(true);
            }, ct);
            return ExitCodes.Ok;
        }));
        return cmd;
    }
}
