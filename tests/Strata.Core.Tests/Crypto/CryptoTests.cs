using Strata.Crypto;
using Strata.Repository;

namespace Strata.Core.Tests.Crypto;

public sealed class CryptoTests
{
    [Fact]
    public void A_wrapped_key_opens_only_with_the_matching_private_key()
    {
        var owner = MasterKeys.CreateNew();
        var other = MasterKeys.CreateNew();
        byte[] content = Aead.NewKey();
        byte[] wrapped = KeyWrap.Wrap(owner.PublicKey, content);
        Assert.Equal(KeyWrap.Size, wrapped.Length);
        Assert.Equal(content, KeyWrap.Unwrap(owner.PrivateKey!, wrapped));
        Assert.Null(KeyWrap.Unwrap(other.PrivateKey!, wrapped));
        wrapped[50] ^= 1;
        Assert.Null(KeyWrap.Unwrap(owner.PrivateKey!, wrapped));
    }

    [Fact]
    public void Key_files_open_with_their_passphrase_and_keep_the_role()
    {
        var keys = MasterKeys.CreateNew();
        var owner = KeyFile.Create(keys, KeyRole.Owner, "correct horse", "h", "u", DateTimeOffset.UtcNow, memoryKib: 8192, passes: 1);
        var writer = KeyFile.Create(keys.WriterOnly(), KeyRole.Writer, "writer pw", "h", "u", DateTimeOffset.UtcNow, memoryKib: 8192, passes: 1);
        Assert.Null(owner.TryOpen("wrong"));
        MasterKeys? o = KeyFile.Parse(owner.ToBytes(), "keys/x").TryOpen("correct horse");
        Assert.NotNull(o);
        Assert.True(o.CanRead);
        Assert.Equal(keys.DedupKey, o.DedupKey);
        MasterKeys? w = writer.TryOpen("writer pw");
        Assert.NotNull(w);
        Assert.False(w.CanRead);
        Assert.Equal(keys.PublicKey, w.PublicKey);
        // relabelling a writer file as an owner file breaks its authentication
        Assert.Null((writer with { Role = "owner" }).TryOpen("writer pw"));
    }

    [Fact]
    public void Blob_ids_are_keyed()
    {
        byte[] data = "same bytes"u8.ToArray();
        Assert.NotEqual(MasterKeys.CreateNew().IdOf(data), MasterKeys.CreateNew().IdOf(data));
        var k = MasterKeys.CreateNew();
        Assert.Equal(k.IdOf(data), k.WriterOnly().IdOf(data));
    }

    [Fact]
    public void Config_from_a_future_version_is_refused_with_a_clear_message()
    {
        var c = RepoConfig.CreateNew(DateTimeOffset.UtcNow) with { Version = 2 };
        var e = Assert.Throws<RepositoryFormatException>(() => RepoConfig.Parse(c.ToBytes(), "/repo"));
        Assert.Contains("version 2", e.Message, StringComparison.Ordinal);
        var f = RepoConfig.CreateNew(DateTimeOffset.UtcNow) with { RequiredFeatures = ["time-travel"] };
        Assert.Contains("time-travel", Assert.Throws<RepositoryFormatException>(() => RepoConfig.Parse(f.ToBytes(), "/repo")).Message, StringComparison.Ordinal);
        Assert.Contains("damaged", Assert.Throws<RepositoryFormatException>(() => RepoConfig.Parse("garbage"u8.ToArray(), "/repo")).Message, StringComparison.Ordinal);
    }
}
