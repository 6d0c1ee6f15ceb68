using Strata.Archiver;

namespace Strata.Core.Tests.Archiver;

public sealed class ExcludeMatcherTests
{
    [Theory]
    [InlineData("*.tmp", "/home/me/a.tmp", true)]
    [InlineData("*.tmp", "/home/me/a.tmp.keep", false)]
    [InlineData("node_modules", "/src/app/node_modules", true)]
    [InlineData("node_modules", "/src/app/node_modules_old", false)]
    [InlineData("/home/me/cache", "/home/me/cache", true)]
    [InlineData("/home/me/cache", "/home/me/cache/x/y", true)]
    [InlineData("/home/me/cache", "/other/home/me/cache", false)]
    [InlineData("/home/*/cache", "/home/you/cache", true)]
    [InlineData("/home/*/cache", "/home/a/b/cache", false)]
    [InlineData("/home/**/cache", "/home/a/b/cache", true)]
    [InlineData("/**/a", "/x/y/a", true)]
    [InlineData("/**/a", "/a", true)]
    [InlineData("/**/a", "/xa", false)]
    [InlineData("/home/**", "/home/x/y", true)]
    [InlineData("build/*.o", "/src/build/x.o", true)]
    [InlineData("file?.txt", "/d/file1.txt", true)]
    [InlineData("file[0-9].txt", "/d/file7.txt", true)]
    [InlineData("file[!0-9].txt", "/d/file7.txt", false)]
    public void Globs_match_as_restic_does(string pattern, string path, bool excluded) =>
        Assert.Equal(excluded, new ExcludeMatcher([pattern]).IsExcluded(path));

    [Fact]
    public void Escaped_literal_paths_match_only_themselves()
    {
        string weird = "/data/a[1]*?/repo";
        var m = new ExcludeMatcher([ExcludeMatcher.EscapeLiteral(weird)]);
        Assert.True(m.IsExcluded(weird));
        Assert.True(m.IsExcluded(weird + "/data/ab"));
        Assert.False(m.IsExcluded("/data/a1xx/repo"));
    }

    [Fact]
    public void An_invalid_pattern_is_named_in_the_error()
    {
        var e = Assert.Throws<Strata.Repository.UserInputException>(() => new ExcludeMatcher(["abc[def"]));
        Assert.Contains("abc[def", e.Message, StringComparison.Ordinal);
    }
}
