using System.Text;
using Strata.Sources.Buckets;

namespace Strata.Tests.Buckets;

/// <summary>
/// S3 keys as snapshot paths (strata bucket snapshot --copy): parts that are not file names are escaped, no two keys
/// share a path, every name fits a Linux file name with room for the beside-a-folder mark, and names read back.
/// </summary>
public sealed class BucketKeyPathTests
{
    [Theory]
    [InlineData("photos/2024/a.jpg", new[] { "photos", "2024", "a.jpg" })]
    [InlineData("ünï cødé €.txt", new[] { "ünï cødé €.txt" })]
    [InlineData("folder/", new[] { "folder", "%" })]
    [InlineData("a//b", new[] { "a", "%", "b" })]
    [InlineData("/lead", new[] { "%", "lead" })]
    [InlineData("./x/../y", new[] { "%2E", "x", "%2E%2E", "y" })]
    [InlineData("100%/50%25", new[] { "100%25", "50%2525" })]
    [InlineData("...", new[] { "..." })]
    [InlineData("a\0b", new[] { "a%00b" })]
    public void Keys_become_names(string key, string[] names)
    {
        Assert.Equal(names, BucketKeyPath.Names(key, ""));
    }

    [Fact]
    public void The_prefix_is_left_out()
    {
        Assert.Equal(["2024", "a.jpg"], BucketKeyPath.Names("photos/2024/a.jpg", "photos/"));
        Assert.Throws<ArgumentException>(() => BucketKeyPath.Names("other/a.jpg", "photos/"));
    }

    [Fact]
    public void Names_read_back_as_their_key_parts()
    {
        string[] parts = ["", ".", "..", "...", "%", "%%", "%25", "a%", "%2E", "plain", "ünï €", "a\0b", "end%"];
        foreach (string part in parts)
        {
            string name = BucketKeyPath.Escape(part);
            Assert.Equal(part, BucketKeyPath.Unescape(name));
            Assert.Equal(part, BucketKeyPath.Unescape(BucketKeyPath.BesideFolder(name)));
        }
    }

    [Fact]
    public void No_two_parts_share_a_name_with_or_without_the_beside_folder_mark()
    {
        var parts = new List<string> { "", ".", "..", "...", "%", "%%", "%25", "a", "a%", "%2E", "%2E%2E", "%00", "\0", new string('x', 300), new string('x', 301) };
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (string part in parts)
        {
            string name = BucketKeyPath.Escape(part);
            Assert.True(names.Add(name), $"'{part}' collides as '{name}'");
            Assert.True(names.Add(BucketKeyPath.BesideFolder(name)), $"'{part}' beside a folder collides");
        }
    }

    [Theory]
    [InlineData(255, 'x')]
    [InlineData(600, 'x')]
    [InlineData(200, 'é')]
    [InlineData(120, '€')]
    [InlineData(100, '%')]
    public void Long_parts_are_shortened_to_fit_with_a_hash(int length, char c)
    {
        string part = new(c, length);
        string name = BucketKeyPath.Escape(part);
        int bytes = Encoding.UTF8.GetByteCount(name);
        Assert.InRange(bytes, 1, BucketKeyPath.MaxName);
        Assert.InRange(Encoding.UTF8.GetByteCount(BucketKeyPath.BesideFolder(name)), 1, 255);
        Assert.Contains("%~", name);
        Assert.Null(BucketKeyPath.Unescape(name));
        // the kept head is whole characters and whole escapes
        string head = name[..name.IndexOf("%~", StringComparison.Ordinal)];
        Assert.Equal(head.Replace("%25", "%", StringComparison.Ordinal), new string(c, Uri.UnescapeDataString(head).Length));
        // another part with the same head gets another name
        Assert.NotEqual(name, BucketKeyPath.Escape(part + "y"));
    }

    [Fact]
    public void A_part_that_fits_exactly_is_kept()
    {
        string part = new('x', BucketKeyPath.MaxName);
        Assert.Equal(part, BucketKeyPath.Escape(part));
    }
}
