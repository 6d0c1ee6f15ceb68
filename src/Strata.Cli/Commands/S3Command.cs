using System.CommandLine;
using Strata.Repository;
using Strata.Stores.S3;

namespace Strata.Cli.Commands;

/// <summary>strata s3 policy --role writer|admin --bucket B [--prefix P]: prints the IAM policy for that role (JSON on stdout).</summary>
internal static class S3Command
{
    private static readonly Option<string> Role = new("--role") { Description = "writer (backup machines: create, read warm metadata, no delete) or admin (everything)", Required = true };
    private static readonly Option<string> Bucket = new("--bucket") { Description = "the bucket", Required = true };
    private static readonly Option<string?> Prefix = new("--prefix") { Description = "the repository's prefix in the bucket (as in s3:.../BUCKET/PREFIX)" };

    public static Command Create()
    {
        var s3 = new Command("s3", "S3 helpers");
        var policy = new Command("policy", "print an IAM policy (JSON) for a writer or an admin of a repository on S3");
        policy.Options.Add(Role);
        policy.Options.Add(Bucket);
        policy.Options.Add(Prefix);
        policy.SetAction(p => GlobalOptions.Guard(() => Task.FromResult(Print(p))));
        s3.Subcommands.Add(policy);
        return s3;
    }

    private static int Print(ParseResult p)
    {
        S3PolicyRole role = p.GetValue(Role) switch
        {
            "writer" => S3PolicyRole.Writer,
            "admin" => S3PolicyRole.Admin,
            var r => throw new UserInputException($"--role: '{r}' is not writer or admin"),
        };
        string json;
        try
        {
            json = S3Policy.Render(role, p.GetValue(Bucket)!, p.GetValue(Prefix) ?? "");
        }
        catch (ArgumentException e)
        {
            throw new UserInputException(e.Message);
        }
        Console.WriteLine(json);
        if (role == S3PolicyRole.Writer && !p.GetValue(GlobalOptions.Quiet))
        {
            Console.Error.WriteLine("note: IAM cannot allow \"new keys only\". Strata never overwrites (it writes with If-None-Match: *), but a stolen " +
                "writer credential could: enable bucket versioning with Object Lock (strata init --object-lock DAYS) so earlier versions are kept. " +
                "The only delete allowed is on locks/. With --stage-warm the writer also needs s3:GetObject on data/.");
        }
        return ExitCodes.Ok;
    }
}
