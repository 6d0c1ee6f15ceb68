using Strata.Stores.Azure;

namespace Strata.Conformance;

/// <summary>restic's azure:CONTAINER:/PATH form and the environment variables that complete it; no server needed.</summary>
public sealed class AzureConnectionTests
{
    private const string Key = AzuriteFixture.Key;

    private static Func<string, string?> Env(params (string Name, string Value)[] vars) =>
        name => vars.FirstOrDefault(v => v.Name == name).Value;

    [Theory]
    [InlineData("azure:backups:/", "backups", "")]
    [InlineData("azure:backups:/laptop", "backups", "laptop")]
    [InlineData("azure:backups:/laptop/home/", "backups", "laptop/home")]
    [InlineData("azure:backups:laptop", "backups", "laptop")]
    [InlineData("azure:backups", "backups", "")]
    [InlineData("azure:my-container-01:/a", "my-container-01", "a")]
    public void ParseUrl_AcceptsResticsForms(string url, string container, string prefix)
    {
        Assert.Equal((container, prefix), AzureConnection.ParseUrl(url));
    }

    [Theory]
    [InlineData("azure:", "the container name is missing")]
    [InlineData("azure::/path", "the container name is missing")]
    [InlineData("azure:Backups:/", "'Backups' is not a valid container name")]
    [InlineData("azure:ab:/", "'ab' is not a valid container name")]
    [InlineData("azure:a--b:/", "'a--b' is not a valid container name")]
    [InlineData("azure:-ab:/", "'-ab' is not a valid container name")]
    [InlineData("azure:backups/laptop", "is not a container name (the folder goes after the second colon)")]
    [InlineData("azure://account/container", "azure:CONTAINER:/PATH")]
    [InlineData("azure:https://account.blob.core.windows.net/c", "STRATA_AZURE_ENDPOINT")]
    [InlineData("azure:backups:/a/../b", "has an empty, '.' or '..' segment")]
    [InlineData("azure:backups:/a//b", "has an empty, '.' or '..' segment")]
    [InlineData("s3:backups", "azure:CONTAINER:/PATH")]
    public void ParseUrl_RefusesOtherFormsWithAClearMessage(string url, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => AzureConnection.ParseUrl(url));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Environment_GivesAzuresEndpoint_OrTheSuffixOne_OrAnExplicitOne()
    {
        AzureConnection c = AzureConnection.FromEnvironment("azure:backups:/laptop", Env(("AZURE_ACCOUNT_NAME", "acme"), ("AZURE_ACCOUNT_KEY", Key)));
        Assert.Equal(new Uri("https://acme.blob.core.windows.net/"), c.Options.ServiceUri);
        Assert.Equal("acme", c.Options.AccountName);
        Assert.Equal("backups", c.Options.Container);
        Assert.Equal("laptop/", c.Options.NormalizedPrefix);
        Assert.NotNull(c.SharedKey);
        Assert.Null(c.Sas);

        c = AzureConnection.FromEnvironment("azure:backups:/", Env(("AZURE_ACCOUNT_NAME", "acme"), ("AZURE_ACCOUNT_SAS", "?sv=2024&sig=abc"), ("AZURE_ENDPOINT_SUFFIX", "core.chinacloudapi.cn")));
        Assert.Equal(new Uri("https://acme.blob.core.chinacloudapi.cn/"), c.Options.ServiceUri);
        Assert.Null(c.SharedKey);
        Assert.Equal("sv=2024&sig=abc", c.Sas?.Signature);

        c = AzureConnection.FromEnvironment("azure:backups:/", Env(("AZURE_ACCOUNT_NAME", "devstoreaccount1"), ("AZURE_ACCOUNT_KEY", Key), ("STRATA_AZURE_ENDPOINT", "http://127.0.0.1:10000/devstoreaccount1")));
        Assert.Equal(new Uri("http://127.0.0.1:10000/devstoreaccount1"), c.Options.ServiceUri);
        Assert.Equal("azure:backups:/", new AzureStore(c).Location);
    }

    [Theory]
    [InlineData(null, Key, null, "no Azure storage account: set AZURE_ACCOUNT_NAME and AZURE_ACCOUNT_KEY (or AZURE_ACCOUNT_SAS)")]
    [InlineData("acme", null, null, "no credentials for Azure storage account acme: set AZURE_ACCOUNT_NAME and AZURE_ACCOUNT_KEY (or AZURE_ACCOUNT_SAS)")]
    [InlineData("acme", "not base64!", null, "AZURE_ACCOUNT_KEY is not a base64 account key")]
    [InlineData("acme", Key, "ftp://host/x", "STRATA_AZURE_ENDPOINT 'ftp://host/x' is not an http(s) URL")]
    [InlineData("acme", Key, "http://user:pw@host/x", "is not an http(s) URL of a Blob service without credentials")]
    public void Environment_NamesWhatIsMissingOrWrong(string? account, string? key, string? endpoint, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => AzureConnection.FromEnvironment("azure:backups:/",
            Env(("AZURE_ACCOUNT_NAME", account!), ("AZURE_ACCOUNT_KEY", key!), ("STRATA_AZURE_ENDPOINT", endpoint!))));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Key, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("DEEP_ARCHIVE", "Archive")]
    [InlineData("GLACIER", "Archive")]
    [InlineData("archive", "Archive")]
    [InlineData("COLD", "Cold")]
    [InlineData("GLACIER_IR", "Cold")]
    [InlineData("STANDARD_IA", "Cool")]
    [InlineData("Cool", "Cool")]
    [InlineData("STANDARD", "Hot")]
    [InlineData("HOT", "Hot")]
    [InlineData("NEARLINE", null)]
    public void ColdClasses_MapToAzureTiers(string coldClass, string? tier)
    {
        Assert.Equal(tier, AzureStoreOptions.TierForColdClass(coldClass));
    }
}
