using Azure;
using Azure.Storage;

namespace Strata.Stores.Azure;

/// <summary>
/// An <c>azure:</c> repository location resolved against the environment, as restic does it: the URL names the
/// container and the folder, the environment names the account and its secret.
/// <list type="bullet">
/// <item><c>AZURE_ACCOUNT_NAME</c>: the storage account (always needed).</item>
/// <item><c>AZURE_ACCOUNT_KEY</c> (shared key) or <c>AZURE_ACCOUNT_SAS</c> (a SAS token with read, add, create, write,
/// delete and list permissions).</item>
/// <item><c>AZURE_ENDPOINT_SUFFIX</c>: the cloud's suffix (default core.windows.net): https://ACCOUNT.blob.SUFFIX.</item>
/// <item><c>STRATA_AZURE_ENDPOINT</c>: the whole Blob service URL instead, for Azurite or any other endpoint
/// (http://127.0.0.1:10000/devstoreaccount1).</item>
/// </list>
/// </summary>
public sealed record AzureConnection(AzureStoreOptions Options, StorageSharedKeyCredential? SharedKey, AzureSasCredential? Sas)
{
    public const string Usage = "an Azure repository is written azure:CONTAINER:/PATH (PATH may be empty: azure:CONTAINER:/)";

    public const string CredentialsHint = "set AZURE_ACCOUNT_NAME and AZURE_ACCOUNT_KEY (or AZURE_ACCOUNT_SAS)";

    /// <summary>Parses restic's form <c>azure:CONTAINER:/PATH</c> (also <c>azure:CONTAINER:PATH</c> and <c>azure:CONTAINER</c>).</summary>
    /// <returns>The container and the folder inside it ("" for the root).</returns>
    public static (string Container, string Prefix) ParseUrl(string url)
    {
        if (!url.StartsWith("azure:", StringComparison.Ordinal))
        {
            throw new ArgumentException(Usage, nameof(url));
        }
        string rest = url["azure:".Length..];
        if (rest.StartsWith("//", StringComparison.Ordinal) || rest.StartsWith("http", StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException(Usage + "; the account comes from AZURE_ACCOUNT_NAME, and another endpoint from STRATA_AZURE_ENDPOINT", nameof(url));
        }
        int colon = rest.IndexOf(':', StringComparison.Ordinal);
        string container = colon < 0 ? rest : rest[..colon];
        string path = colon < 0 ? "" : rest[(colon + 1)..];
        if (container.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException($"{Usage}: '{container}' is not a container name (the folder goes after the second colon)", nameof(url));
        }
        if (AzureStoreOptions.ContainerNameProblem(container) is { } problem)
        {
            throw new ArgumentException(problem, nameof(url));
        }
        string prefix = path.Trim('/');
        foreach (string segment in prefix.Split('/'))
        {
            if (prefix.Length > 0 && segment is "" or "." or "..")
            {
                throw new ArgumentException($"the folder '{path}' in {url} has an empty, '.' or '..' segment", nameof(url));
            }
        }
        return (container, prefix);
    }

    /// <summary>The location with the account and secrets from <paramref name="env"/>; <see cref="ArgumentException"/> names what is missing.</summary>
    public static AzureConnection FromEnvironment(string url, Func<string, string?> env)
    {
        (string container, string prefix) = ParseUrl(url);
        string? account = NullIfBlank(env("AZURE_ACCOUNT_NAME"));
        string? key = NullIfBlank(env("AZURE_ACCOUNT_KEY"));
        string? sas = NullIfBlank(env("AZURE_ACCOUNT_SAS"));
        string? endpoint = NullIfBlank(env("STRATA_AZURE_ENDPOINT"));
        string suffix = NullIfBlank(env("AZURE_ENDPOINT_SUFFIX")) ?? "core.windows.net";
        if (account is null)
        {
            throw new ArgumentException($"no Azure storage account: {CredentialsHint}", nameof(env));
        }
        if (key is null && sas is null)
        {
            throw new ArgumentException($"no credentials for Azure storage account {account}: {CredentialsHint}", nameof(env));
        }
        Uri service;
        if (endpoint is not null)
        {
            if (!Uri.TryCreate(endpoint, UriKind.Absolute, out Uri? e) || e.Scheme is not ("http" or "https") || e.UserInfo.Length > 0 || e.Query.Length > 0)
            {
                throw new ArgumentException($"STRATA_AZURE_ENDPOINT '{endpoint}' is not an http(s) URL of a Blob service without credentials or query, like http://127.0.0.1:10000/devstoreaccount1", nameof(env));
            }
            service = e;
        }
        else
        {
            if (suffix.Contains('/', StringComparison.Ordinal) || suffix.Contains(':', StringComparison.Ordinal)
                || !Uri.TryCreate($"https://{account}.blob.{suffix}/", UriKind.Absolute, out Uri? e))
            {
                throw new ArgumentException($"AZURE_ACCOUNT_NAME '{account}' with AZURE_ENDPOINT_SUFFIX '{suffix}' makes no host name", nameof(env));
            }
            service = e;
        }
        StorageSharedKeyCredential? shared = null;
        if (key is not null)
        {
            try
            {
                shared = new StorageSharedKeyCredential(account, key);
            }
            catch (FormatException)
            {
                throw new ArgumentException($"AZURE_ACCOUNT_KEY is not a base64 account key (copy key1 or key2 of account {account})", nameof(env));
            }
        }
        var options = new AzureStoreOptions { AccountName = account, ServiceUri = service, Container = container, Prefix = prefix };
        options.Validate();
        return new AzureConnection(options, shared, shared is null ? new AzureSasCredential(sas!.TrimStart('?')) : null);
    }

    private static string? NullIfBlank(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim();
}
