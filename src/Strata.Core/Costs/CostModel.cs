using Strata.Stores;

namespace Strata.Costs;

/// <summary>What a cold read would fetch: enough to price it for every retrieval tier.</summary>
/// <param name="Provider">Price table provider key, e.g. "aws-s3", "azure-blob", "backblaze-b2".</param>
/// <param name="StorageClass">The class the objects are in, e.g. "DEEP_ARCHIVE", "GLACIER", "Archive".</param>
/// <param name="Bytes">Bytes to thaw and download (whole packs: thaws are per object).</param>
/// <param name="Objects">Number of objects (packs) to thaw.</param>
/// <param name="ThawDays">Days the thawed copy is kept (billed as STANDARD storage for those days).</param>
/// <param name="InRegion">Read from inside the provider's region: no egress charge.</param>
public sealed record ColdReadRequest(string Provider, string StorageClass, long Bytes, int Objects, int ThawDays, bool InRegion);

/// <summary>The time range and cost of a cold read at one retrieval tier. All amounts in USD.</summary>
public sealed record TierEstimate(
    ThawTier Tier,
    TimeSpan Fastest,
    TimeSpan Slowest,
    decimal RetrievalUsd,
    decimal RequestsUsd,
    decimal EgressUsd,
    decimal ThawedStorageUsd)
{
    public decimal TotalUsd => RetrievalUsd + RequestsUsd + EgressUsd + ThawedStorageUsd;
}
