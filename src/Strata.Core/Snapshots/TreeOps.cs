using Strata.Crypto;
using Strata.Platform;
using Strata.Repository;

namespace Strata.Snapshots;

/// <summary>Warm-only operations on snapshot trees: walking, finding a path, diffing. None reads a data pack.</summary>
public static class TreeOps
{
    /// <summary>Visits every node under <paramref name="tree"/> depth-first in name order, with its absolute path.</summary>
    public static async Task WalkAsync(Repo repo, BlobId tree, string prefix, Func<string, Node, Task<bool>> visit, CancellationToken ct)
    {
        Tree t = await repo.LoadTreeAsync(tree, ct).ConfigureAwait(false);
        foreach (Node n in t.Nodes)
        {
            string path = prefix + "/" + n.DisplayName;
            bool descend = await visit(path, n).ConfigureAwait(false);
            if (descend && n.Kind == FileKind.Directory && n.Subtree is { } sub)
            {
                await WalkAsync(repo, sub, path, visit, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The node at an absolute path in the snapshot, or null. "/" gives a synthetic root folder node.</summary>
    public static async Task<Node?> FindAsync(Repo repo, Snapshot snapshot, string path, CancellationToken ct)
    {
        BlobId current = BlobId.Parse(snapshot.Tree);
        string[] parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        Node? node = new() { Name = [], Kind = FileKind.Directory, Subtree = current };
        foreach (string part in parts)
        {
            if (node?.Subtree is not { } sub)
            {
                return null;
            }
            Tree t = await repo.LoadTreeAsync(sub, ct).ConfigureAwait(false);
            byte[] name = Posix.ToBytes(part);
            node = t.Nodes.FirstOrDefault(n => n.Name.AsSpan().SequenceEqual(name) || n.DisplayName == part);
            if (node is null)
            {
                return null;
            }
        }
        return node;
    }

    public enum Change
    {
        Added,
        Removed,
        Modified,
        Metadata,
    }

    /// <summary>Compares two trees; identical subtree ids are skipped without loading them.</summary>
    public static async Task DiffAsync(Repo repo, BlobId? a, BlobId? b, string prefix, Action<Change, string, Node> report, CancellationToken ct)
    {
        if (a == b)
        {
            return;
        }
        var left = a is { } la ? (await repo.LoadTreeAsync(la, ct).ConfigureAwait(false)).Nodes : [];
        var right = b is { } rb ? (await repo.LoadTreeAsync(rb, ct).ConfigureAwait(false)).Nodes : [];
        int i = 0, j = 0;
        while (i < left.Count || j < right.Count)
        {
            int c = i >= left.Count ? 1 : j >= right.Count ? -1 : Tree.CompareNames(left[i].Name, right[j].Name);
            if (c < 0)
            {
                await ReportAll(repo, Change.Removed, left[i], prefix, report, ct).ConfigureAwait(false);
                i++;
            }
            else if (c > 0)
            {
                await ReportAll(repo, Change.Added, right[j], prefix, report, ct).ConfigureAwait(false);
                j++;
            }
            else
            {
                Node l = left[i++], r = right[j++];
                string path = prefix + "/" + r.DisplayName;
                if (l.Kind != r.Kind)
                {
                    await ReportAll(repo, Change.Removed, l, prefix, report, ct).ConfigureAwait(false);
                    await ReportAll(repo, Change.Added, r, prefix, report, ct).ConfigureAwait(false);
                    continue;
                }
                bool contentDiffers = !l.Content.SequenceEqual(r.Content) || l.Size != r.Size || !l.LinkTarget.AsSpan().SequenceEqual(r.LinkTarget);
                bool metaDiffers = l.Mode != r.Mode || l.Uid != r.Uid || l.Gid != r.Gid || l.MTimeNs != r.MTimeNs
                    || !XattrsEqual(l.Xattrs, r.Xattrs);
                if (contentDiffers && r.Kind != FileKind.Directory)
                {
                    report(Change.Modified, path, r);
                }
                else if (metaDiffers)
                {
                    report(Change.Metadata, path, r);
                }
                if (r.Kind == FileKind.Directory)
                {
                    await DiffAsync(repo, l.Subtree, r.Subtree, path, report, ct).ConfigureAwait(false);
                }
            }
        }
    }

    private static bool XattrsEqual(IReadOnlyList<Xattr> a, IReadOnlyList<Xattr> b) =>
        a.Count == b.Count && a.Zip(b).All(p => p.First.Name.AsSpan().SequenceEqual(p.Second.Name) && p.First.Value.AsSpan().SequenceEqual(p.Second.Value));

    private static async Task ReportAll(Repo repo, Change change, Node n, string prefix, Action<Change, string, Node> report, CancellationToken ct)
    {
        string path = prefix + "/" + n.DisplayName;
        report(change, path, n);
        if (n.Kind == FileKind.Directory && n.Subtree is { } sub)
        {
            await WalkAsync(repo, sub, path, (p, child) =>
            {
                report(change, p, child);
                return Task.FromResult(true);
            }, ct).ConfigureAwait(false);
        }
    }
}
