using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Azure;
using Azure.Storage;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;

namespace Strata.Stores.Azure;

/// <summary>
/// A repository in an Azure Blob container. Blob name = prefix + <see cref="ObjectName.Path"/>; every object is a block
/// blob. Writes are create-only (<c>If-None-Match: *</c> on Put Blob, or on the Put Block List that commits a larger
/// upload, so no partial blob is ever visible); each blob records the MD5 of its bytes (x-ms-blob-content-md5), which
/// lets a retried write be recognised without reading an archived blob back. Data packs go to
/// <see cref="AzureStoreOptions.ColdTier"/> (Archive by default), everything else to <see cref="AzureStoreOptions.WarmTier"/>.
/// A thaw is Azure's rehydration: the blob's tier is set to the warm tier with Standard or High priority, and it stays
/// there (no expiry) until something moves it back.
/// Errors are classified here: 5xx, throttling, timeouts and dropped connections are transient; credentials, a missing
/// container and other 4xx are permanent. Messages name the account, the container and the object, never a secret.
/// </summary>
public sealed class AzureStore : IStore, IColdTransition
{
    private const int CompareBufferSize = 64 * 1024;

    private readonly AzureStoreOptions _options;
    private readonly BlobContainerClient _container;
    private readonly string _prefix;
    private readonly string _endpoint;
    private readonly StorageSharedKeyCredential? _sharedKey;
    private readonly AzureSasCredential? _sas;
    private volatile bool _containerSeen;

    public AzureStore(AzureConnection connection)
        : this(connection.Options, connection.SharedKey, connection.Sas)
    {
    }

    /// <param name="sharedKey">The account key; or <paramref name="sas"/>, a SAS token. One of them is needed.</param>
    public AzureStore(AzureStoreOptions options, StorageSharedKeyCredential? sharedKey, AzureSasCredential? sas)
    {
        options.Validate();
        _options = options;
        _sharedKey = sharedKey;
        _sas = sas;
        _prefix = options.NormalizedPrefix;
        _endpoint = $"{options.ServiceUri.Scheme}://{options.ServiceUri.Authority}{options.ServiceUri.AbsolutePath.TrimEnd('/')}";
        Location = $"azure:{options.Container}:/{_prefix.TrimEnd('/')}";

        var clientOptions = new BlobClientOptions(options.ServiceVersion);
        clientOptions.Retry.MaxRetries = options.SdkRetries;
        clientOptions.Retry.Delay = TimeSpan.FromMilliseconds(500);
        clientOptions.Retry.NetworkTimeout = TimeSpan.FromSeconds(100);
        var containerUri = new Uri(_endpoint + "/" + options.Container);
        _container = (sharedKey, sas) switch
        {
            ({ } k, _) => new BlobContainerClient(containerUri, k, clientOptions),
            (null, { } s) => new BlobContainerClient(containerUri, s, clientOptions),
            _ => throw new ArgumentException($"no credentials for Azure storage account {options.AccountName}: {AzureConnection.CredentialsHint}", nameof(sharedKey)),
        };
    }

    public string Location { get; }

    public AzureStoreOptions Options => _options;

    /// <summary>The same container and credentials with other tier settings (a repository's config chooses them).</summary>
    public AzureStore WithOptions(Func<AzureStoreOptions, AzureStoreOptions> change) => new(change(_options), _sharedKey, _sas);

    public StoreProperties Properties => new(
        Connections: _options.Connections,
        HasColdTier: IsArchiveTier(_options.ColdTier),
        SimulatedCold: false,
        AtomicCreate: true,
        ColdReadsDirectly: false,
        PriceProvider: "azure-blob",
        ColdStorageClass: _options.ColdTier,
        WarmStorageClass: _options.WarmTier);

    /// <summary>Only Archive needs a rehydration before a read; Hot, Cool and Cold read at once.</summary>
    public static bool IsArchiveTier(string? tier) => string.Equals(tier, "Archive", StringComparison.OrdinalIgnoreCase);

    private BlockBlobClient Blob(ObjectName name) => _container.GetBlockBlobClient(_prefix + name.Path);

    private AccessTier TierFor(ObjectName name) => new(name.Tier == Tier.Cold && !_options.StageWarm ? _options.ColdTier : _options.WarmTier);

    // ---------------------------------------------------------------- cold transition (staging)

    public bool StagesWarm => _options.StageWarm;

    /// <summary>A data pack outside the cold tier: staged by a backup, or rehydrated by a thaw.</summary>
    public bool IsStaged(ObjectInfo info) => info.Name.Tier == Tier.Cold && !string.Equals(info.StorageClass, _options.ColdTier, StringComparison.OrdinalIgnoreCase);

    /// <summary>Moves a pack to the cold tier (Set Blob Tier: same bytes, same name).</summary>
    public async Task MoveToColdAsync(ObjectName name, CancellationToken ct)
    {
        try
        {
            await Blob(name).SetAccessTierAsync(new AccessTier(_options.ColdTier), cancellationToken: ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, "moving to " + _options.ColdTier, name);
        }
    }

    // ---------------------------------------------------------------- stat

    public async Task<ObjectInfo?> StatAsync(ObjectName name, CancellationToken ct)
    {
        BlobProperties? p = await PropertiesAsync(name, ct).ConfigureAwait(false);
        return p is null ? null : new ObjectInfo(name, p.ContentLength, p.LastModified, TierName(p.AccessTier));
    }

    /// <summary>Get Blob Properties; null when the blob does not exist. The first 404 checks the container, so a missing container is not mistaken for a missing blob.</summary>
    private async Task<BlobProperties?> PropertiesAsync(ObjectName name, CancellationToken ct)
    {
        try
        {
            BlobProperties p = (await Blob(name).GetPropertiesAsync(cancellationToken: ct).ConfigureAwait(false)).Value;
            _containerSeen = true;
            return p;
        }
        catch (RequestFailedException e) when (e.Status == 404 && e.ErrorCode != BlobErrorCode.ContainerNotFound)
        {
            if (!_containerSeen)
            {
                await CheckContainerAsync(ct).ConfigureAwait(false);
            }
            return null;
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, "reading the properties of", name);
        }
    }

    private async Task CheckContainerAsync(CancellationToken ct)
    {
        try
        {
            await _container.GetPropertiesAsync(cancellationToken: ct).ConfigureAwait(false);
            _containerSeen = true;
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, "opening", null);
        }
    }

    // ---------------------------------------------------------------- read

    public async Task ReadAsync(ObjectName name, long offset, Memory<byte> buffer, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (buffer.Length == 0)
        {
            if (await PropertiesAsync(name, ct).ConfigureAwait(false) is null)
            {
                throw new ObjectNotFoundException(Location, name);
            }
            return;
        }
        int total = 0;
        try
        {
            var options = new BlobDownloadOptions { Range = new HttpRange(offset, buffer.Length) };
            using BlobDownloadStreamingResult result = (await Blob(name).DownloadStreamingAsync(options, ct).ConfigureAwait(false)).Value;
            total = await result.Content.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, ct).ConfigureAwait(false);
            _containerSeen = true;
        }
        catch (RequestFailedException e) when (e.Status == 404 && e.ErrorCode != BlobErrorCode.ContainerNotFound)
        {
            throw new ObjectNotFoundException(Location, name);
        }
        catch (RequestFailedException e) when (e.Status == 416 || e.ErrorCode == BlobErrorCode.InvalidRange)
        {
            total = -1;
        }
        catch (RequestFailedException e) when (e.ErrorCode == BlobErrorCode.BlobArchived)
        {
            throw await FrozenAsync(name, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, "reading", name);
        }
        if (total < buffer.Length)
        {
            BlobProperties p = await PropertiesAsync(name, ct).ConfigureAwait(false) ?? throw new ObjectNotFoundException(Location, name);
            throw new PermanentStoreException($"{name.Path} in {Location} is shorter than expected: wanted bytes {offset}..{offset + buffer.Length}, it ends at {p.ContentLength}");
        }
    }

    private async Task<StoreException> FrozenAsync(ObjectName name, CancellationToken ct)
    {
        BlobProperties? p = await PropertiesAsync(name, ct).ConfigureAwait(false);
        if (p is null)
        {
            return new ObjectNotFoundException(Location, name);
        }
        ThawStatus status = StatusFrom(TierName(p.AccessTier), p.ArchiveStatus);
        if (status.CanRead)
        {
            // Refused as archived although it no longer looks so: treat it as not thawed yet.
            status = new ThawStatus(ThawState.Frozen);
        }
        return new ObjectFrozenException(Location, name, TierName(p.AccessTier), status);
    }

    // ---------------------------------------------------------------- write

    public async Task WriteAsync(ObjectName name, Stream content, CancellationToken ct)
    {
        Stream source = content;
        MemoryStream? copy = null;
        try
        {
            if (!content.CanSeek)
            {
                // The contract asks for a seekable stream; an odd caller still gets a correct write.
                copy = new MemoryStream();
                await content.CopyToAsync(copy, ct).ConfigureAwait(false);
                copy.Position = 0;
                source = copy;
            }
            long start = source.Position;
            byte[] md5 = await Md5Async(source, ct).ConfigureAwait(false);
            long length = source.Position - start;
            source.Position = start;
            var options = new BlobUploadOptions
            {
                Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All },
                AccessTier = TierFor(name),
                HttpHeaders = new BlobHttpHeaders { ContentHash = md5, ContentType = "application/octet-stream" },
                TransferOptions = new StorageTransferOptions
                {
                    InitialTransferSize = _options.SingleUploadLimit,
                    MaximumTransferSize = _options.BlockSize,
                    MaximumConcurrency = 1,
                },
            };
            try
            {
                await Blob(name).UploadAsync(source, options, ct).ConfigureAwait(false);
                _containerSeen = true;
            }
            catch (RequestFailedException e) when (IsAlreadyExists(e))
            {
                // Exists already: the same bytes make this an idempotent retry, anything else is refused.
                source.Position = start;
                await RequireSameAsync(name, length, md5, source, ct).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, "writing", name);
        }
        finally
        {
            copy?.Dispose();
        }
    }

    private static bool IsAlreadyExists(RequestFailedException e) =>
        e.ErrorCode == BlobErrorCode.BlobAlreadyExists || e.ErrorCode == BlobErrorCode.ConditionNotMet || (e.Status == 412 && e.ErrorCode is null);

    [SuppressMessage("Security", "CA5351", Justification = "MD5 is Azure's Content-MD5 integrity check, not a security primitive.")]
    private static async Task<byte[]> Md5Async(Stream content, CancellationToken ct)
    {
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            int n;
            while ((n = await content.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
            {
                md5.AppendData(buffer, 0, n);
            }
            return md5.GetHashAndReset();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// The blob exists: returns when it holds our bytes, throws <see cref="ObjectExistsException"/> otherwise. Equal
    /// lengths and stored MD5s prove it without a read (an archived blob cannot be read); a blob without a stored MD5 is
    /// read and compared, and one that cannot be read counts as different: the store never guesses in favour of a write.
    /// </summary>
    private async Task RequireSameAsync(ObjectName name, long length, byte[] md5, Stream ours, CancellationToken ct)
    {
        BlobProperties existing = await PropertiesAsync(name, ct).ConfigureAwait(false)
            ?? throw new TransientStoreException($"writing {name.Path} in {Location}: the create-only write was refused, but the object is gone now");
        if (existing.ContentLength != length)
        {
            throw new ObjectExistsException(Location, name);
        }
        if (existing.ContentHash is { Length: > 0 } stored)
        {
            if (stored.AsSpan().SequenceEqual(md5))
            {
                return;
            }
            throw new ObjectExistsException(Location, name);
        }
        if (!await ContentEqualsAsync(name, ours, ct).ConfigureAwait(false))
        {
            throw new ObjectExistsException(Location, name);
        }
    }

    private async Task<bool> ContentEqualsAsync(ObjectName name, Stream ours, CancellationToken ct)
    {
        byte[] a = ArrayPool<byte>.Shared.Rent(CompareBufferSize);
        byte[] b = ArrayPool<byte>.Shared.Rent(CompareBufferSize);
        try
        {
            using BlobDownloadStreamingResult theirs = (await Blob(name).DownloadStreamingAsync(cancellationToken: ct).ConfigureAwait(false)).Value;
            while (true)
            {
                int na = await ours.ReadAtLeastAsync(a.AsMemory(0, CompareBufferSize), CompareBufferSize, throwOnEndOfStream: false, ct).ConfigureAwait(false);
                int nb = await theirs.Content.ReadAtLeastAsync(b.AsMemory(0, CompareBufferSize), CompareBufferSize, throwOnEndOfStream: false, ct).ConfigureAwait(false);
                if (na != nb || !a.AsSpan(0, na).SequenceEqual(b.AsSpan(0, nb)))
                {
                    return false;
                }
                if (na == 0)
                {
                    return true;
                }
            }
        }
        catch (RequestFailedException e) when (e.ErrorCode == BlobErrorCode.BlobArchived)
        {
            return false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(a);
            ArrayPool<byte>.Shared.Return(b);
        }
    }

    // ---------------------------------------------------------------- delete, list

    public async Task DeleteAsync(ObjectName name, CancellationToken ct)
    {
        try
        {
            await Blob(name).DeleteIfExistsAsync(cancellationToken: ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, "deleting", name);
        }
    }

    public async IAsyncEnumerable<ObjectInfo> ListAsync(ObjectKind kind, [EnumeratorCancellation] CancellationToken ct)
    {
        string prefix = kind == ObjectKind.Config ? _prefix + "config" : _prefix + ObjectKinds.Folder(kind) + "/";
        string? token = null;
        do
        {
            Page<BlobItem> page = await ListPageAsync(prefix, token, ct).ConfigureAwait(false);
            foreach (BlobItem item in page.Values)
            {
                if (item.Name.StartsWith(_prefix, StringComparison.Ordinal)
                    && ObjectName.TryParsePath(item.Name[_prefix.Length..]) is { } name && name.Kind == kind)
                {
                    yield return new ObjectInfo(name, item.Properties.ContentLength ?? 0, item.Properties.LastModified, TierName(item.Properties.AccessTier));
                }
            }
            token = page.ContinuationToken;
        }
        while (!string.IsNullOrEmpty(token));
    }

    private async Task<Page<BlobItem>> ListPageAsync(string prefix, string? token, CancellationToken ct)
    {
        try
        {
            var options = new GetBlobsOptions { Prefix = prefix };
            await foreach (Page<BlobItem> page in _container.GetBlobsAsync(options, ct).AsPages(token, _options.ListPageSize).ConfigureAwait(false))
            {
                _containerSeen = true;
                return page;
            }
            return Page<BlobItem>.FromValues([], null, null!);
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, "listing", null);
        }
    }

    // ---------------------------------------------------------------- thaw

    public async Task<ThawStatus> GetThawStatusAsync(ObjectName name, CancellationToken ct)
    {
        BlobProperties p = await PropertiesAsync(name, ct).ConfigureAwait(false) ?? throw new ObjectNotFoundException(Location, name);
        return StatusFrom(TierName(p.AccessTier), p.ArchiveStatus);
    }

    /// <summary>
    /// The thaw state from the blob's properties: Archive without an archive status is Frozen; an archive status
    /// "rehydrate-pending-to-hot" (or -cool, -cold) is Thawing; any other tier reads at once. A rehydrated blob simply
    /// is in the warm tier, with no expiry.
    /// </summary>
    internal static ThawStatus StatusFrom(string tier, string? archiveStatus)
    {
        if (archiveStatus is { } s && s.StartsWith("rehydrate-pending", StringComparison.OrdinalIgnoreCase))
        {
            return new ThawStatus(ThawState.Thawing);
        }
        return IsArchiveTier(tier) ? new ThawStatus(ThawState.Frozen) : new ThawStatus(ThawState.Readable);
    }

    /// <summary>Azure's rehydrate priority for a thaw tier: Bulk and Standard are Standard (up to 15 h), Expedited is High (under 1 h for small blobs).</summary>
    internal static RehydratePriority PriorityFor(ThawTier tier) => tier == ThawTier.Expedited ? RehydratePriority.High : RehydratePriority.Standard;

    /// <summary>
    /// Rehydrates an archived blob to the warm tier (Set Blob Tier with a rehydrate priority). The days of the request do
    /// not apply: Azure keeps a rehydrated blob in its new tier until it is moved back (a stage-warm backup does that).
    /// A blob already rehydrating, or not archived, is left alone.
    /// </summary>
    public async Task RequestThawAsync(ObjectName name, ThawRequest request, CancellationToken ct)
    {
        if (name.Tier == Tier.Warm)
        {
            return;
        }
        BlobProperties p = await PropertiesAsync(name, ct).ConfigureAwait(false) ?? throw new ObjectNotFoundException(Location, name);
        if (StatusFrom(TierName(p.AccessTier), p.ArchiveStatus).State != ThawState.Frozen)
        {
            return;
        }
        try
        {
            await Blob(name).SetAccessTierAsync(new AccessTier(_options.WarmTier), rehydratePriority: PriorityFor(request.Tier), cancellationToken: ct).ConfigureAwait(false);
        }
        catch (RequestFailedException e) when (e.ErrorCode == BlobErrorCode.BlobBeingRehydrated)
        {
        }
        catch (RequestFailedException e) when (e.Status == 404 && e.ErrorCode != BlobErrorCode.ContainerNotFound)
        {
            throw new ObjectNotFoundException(Location, name);
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, "requesting a thaw of", name);
        }
    }

    // ---------------------------------------------------------------- container

    /// <summary>Creates the container when it does not exist (repository init). An existing one is a success.</summary>
    public async Task CreateContainerIfMissingAsync(CancellationToken ct)
    {
        try
        {
            await _container.CreateIfNotExistsAsync(cancellationToken: ct).ConfigureAwait(false);
            _containerSeen = true;
        }
        catch (Exception e) when (e is not StoreException)
        {
            ct.ThrowIfCancellationRequested();
            throw Classify(e, "creating the container of", null);
        }
    }

    // ---------------------------------------------------------------- errors

    private StoreException Classify(Exception e, string doing, ObjectName? name) =>
        Classify(e, name is { } n ? $"{doing} {n.Path} in {Location}" : $"{doing} {Location}", _options.AccountName, _options.Container, _endpoint);

    /// <summary>Turns an SDK or network error into the contract's transient / permanent split, with a message for people.</summary>
    /// <param name="what">What was being done ("reading data/ab12 in azure:...").</param>
    internal static StoreException Classify(Exception e, string what, string account, string container, string endpoint)
    {
        switch (e)
        {
            case StoreException se:
                return se;
            case AggregateException a when a.InnerExceptions.Count > 0:
                // The SDK's retries gave up: the last attempt's error says why.
                return Classify(a.InnerExceptions[^1], what, account, container, endpoint) switch
                {
                    TransientStoreException t => new TransientStoreException(t.Message, e),
                    var p => new PermanentStoreException(p.Message, e),
                };
            case RequestFailedException r when r.Status == 0:
                // No answer at all: the transport failed (connection refused, reset, DNS).
                return new TransientStoreException($"{what}: {OneLine(Innermost(r).Message)} ({endpoint})", e);
            case RequestFailedException r:
            {
                string code = r.ErrorCode ?? "";
                if (code == BlobErrorCode.ContainerNotFound)
                {
                    return new PermanentStoreException($"container {container} does not exist in Azure storage account {account} at {endpoint} (strata init creates it)", e);
                }
                if (r.Status == 403 || code is "AuthenticationFailed" or "AuthorizationFailure" or "AuthorizationPermissionMismatch" or "InvalidAuthenticationInfo" or "AuthorizationResourceTypeMismatch" or "AuthorizationServiceMismatch" or "AuthorizationProtocolMismatch" or "AuthorizationSourceIPMismatch")
                {
                    return new PermanentStoreException($"access denied to container {container} of Azure storage account {account} at {endpoint} ({Describe(code, r.Status)}): check AZURE_ACCOUNT_NAME and AZURE_ACCOUNT_KEY (or AZURE_ACCOUNT_SAS and its permissions)", e);
                }
                if (r.Status >= 500 || r.Status is 408 or 429 || code is "ServerBusy" or "OperationTimedOut" or "InternalError")
                {
                    return new TransientStoreException($"{what}: the server answered {Describe(code, r.Status)}; worth retrying", e);
                }
                return new PermanentStoreException($"{what}: the server answered {Describe(code, r.Status)}", e);
            }
            case OperationCanceledException:
                return new TransientStoreException($"{what}: the request timed out", e);
            case Exception x when IsNetwork(x):
                return new TransientStoreException($"{what}: {OneLine(x.Message)}", e);
            default:
                return new PermanentStoreException($"{what}: {OneLine(e.Message)}", e);
        }
    }

    private static Exception Innermost(Exception e) => e.InnerException is { } inner ? Innermost(inner) : e;

    private static bool IsNetwork(Exception? e) => e is HttpRequestException or IOException or SocketException or TimeoutException
        || (e is not null && e.InnerException is { } inner && IsNetwork(inner));

    private static string Describe(string code, int status) => code.Length > 0 ? $"{code} ({status})" : $"HTTP {status}";

    private static string OneLine(string message)
    {
        string line = message.ReplaceLineEndings("\n").Split('\n')[0].Trim();
        return line.Length > 0 ? line : message.Trim();
    }

    private static string TierName(AccessTier? tier) => tier?.ToString() is { Length: > 0 } t ? t : "Hot";

    private static string TierName(string? tier) => string.IsNullOrEmpty(tier) ? "Hot" : tier;

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
