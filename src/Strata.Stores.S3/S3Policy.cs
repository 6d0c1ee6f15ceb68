using System.Text;
using System.Text.Json;
using Strata.Stores;

namespace Strata.Stores.S3;

/// <summary>Who an IAM policy is for: a backup machine, or the one who deletes.</summary>
public enum S3PolicyRole
{
    Writer,
    Admin,
}

/// <summary>
/// IAM policies for a repository in BUCKET under PREFIX (identity policies: attach them to a user or role).
/// <list type="bullet">
/// <item>Writer: s3:PutObject (and AbortMultipartUpload) only on the folders a backup creates objects in (data, tree,
/// catalogs, index, snapshots, locks, points), never keys/ or config; s3:GetObject only on warm folders a backup reads
/// (config, keys, index, catalogs, snapshots, locks, points: see ObjectKinds.TierOf and the server's Access rules), so
/// neither data packs nor tree packs can be read (or thawed: no s3:RestoreObject); s3:ListBucket on the prefix;
/// s3:DeleteObject only on locks/ (a backup removes its own lock when done; with versioning that leaves a delete
/// marker, not a loss). IAM cannot say "new keys only": Strata writes with If-None-Match: * so it never overwrites,
/// and against a stolen writer credential, bucket versioning with Object Lock (strata init --object-lock DAYS)
/// keeps every earlier version.</item>
/// <item>Admin: every S3 action on the prefix's objects, and on the bucket itself (listing, versioning, Object Lock
/// configuration; everything when there is no prefix).</item>
/// </list>
/// </summary>
public static class S3Policy
{
    /// <summary>Folders a writer creates objects in.</summary>
    public static readonly IReadOnlyList<ObjectKind> WriterCreates =
        [ObjectKind.Data, ObjectKind.Tree, ObjectKind.Catalogs, ObjectKind.Index, ObjectKind.Snapshots, ObjectKind.Locks, ObjectKind.Points];

    /// <summary>Warm folders a writer reads (besides config): what deduplication, version numbering and locking need.</summary>
    public static readonly IReadOnlyList<ObjectKind> WriterReads =
        [ObjectKind.Keys, ObjectKind.Index, ObjectKind.Catalogs, ObjectKind.Snapshots, ObjectKind.Locks, ObjectKind.Points];

    /// <summary>The policy document as indented JSON. <paramref name="prefix"/> is normalised to end in '/' (or be empty).</summary>
    public static string Render(S3PolicyRole role, string bucket, string prefix)
    {
        Validate(bucket, prefix);
        string p = prefix.Trim('/');
        p = p.Length == 0 ? "" : p + "/";
        string bucketArn = $"arn:aws:s3:::{bucket}";
        string Obj(string rest) => $"{bucketArn}/{p}{rest}";

        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("Version", "2012-10-17");
            w.WriteStartArray("Statement");
            if (role == S3PolicyRole.Writer)
            {
                Statement(w, "ListRepository", ["s3:ListBucket"], [bucketArn], p);
                Statement(w, "CreateNewObjects", ["s3:PutObject", "s3:AbortMultipartUpload"], WriterCreates.Select(k => Obj(ObjectKinds.Folder(k) + "/*")).ToArray(), null);
                Statement(w, "ReadWarmMetadataOnly", ["s3:GetObject"], [Obj("config"), .. WriterReads.Select(k => Obj(ObjectKinds.Folder(k) + "/*"))], null);
                Statement(w, "RemoveLocksOnly", ["s3:DeleteObject"], [Obj("locks/*")], null);
            }
            else if (p.Length == 0)
            {
                Statement(w, "EverythingOnTheBucket", ["s3:*"], [bucketArn, bucketArn + "/*"], null);
            }
            else
            {
                Statement(w, "BucketLevel", ["s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads", "s3:GetBucketLocation", "s3:GetBucketVersioning", "s3:GetBucketObjectLockConfiguration"], [bucketArn], null);
                Statement(w, "EverythingUnderThePrefix", ["s3:*"], [Obj("*")], null);
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    private static void Statement(Utf8JsonWriter w, string sid, string[] actions, string[] resources, string? listPrefix)
    {
        w.WriteStartObject();
        w.WriteString("Sid", sid);
        w.WriteString("Effect", "Allow");
        w.WriteStartArray("Action");
        foreach (string a in actions)
        {
            w.WriteStringValue(a);
        }
        w.WriteEndArray();
        w.WriteStartArray("Resource");
        foreach (string r in resources)
        {
            w.WriteStringValue(r);
        }
        w.WriteEndArray();
        if (listPrefix is { Length: > 0 })
        {
            // Only listings inside the repository's prefix.
            w.WriteStartObject("Condition");
            w.WriteStartObject("StringLike");
            w.WriteStartArray("s3:prefix");
            w.WriteStringValue(listPrefix);
            w.WriteStringValue(listPrefix + "*");
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    /// <summary>Refuses a bucket or prefix that would make a wrong or wider policy (wildcards, ARNs).</summary>
    public static void Validate(string bucket, string prefix)
    {
        if (bucket.Length is < 3 or > 63 || !bucket.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '.') || !char.IsAsciiLetterOrDigit(bucket[0]))
        {
            throw new ArgumentException($"'{bucket}' is not an S3 bucket name (3 to 63 characters: lower-case letters, digits, '-' and '.')");
        }
        if (prefix.Any(c => c is '*' or '?' or '$' or '"' or '\\' || char.IsControl(c)))
        {
            throw new ArgumentException($"prefix '{prefix}' contains a character that IAM would read as a wildcard or variable");
        }
    }
}
