using System.Buffers;

namespace Strata.Repository;

/// <summary>
/// Pools for blob-sized buffers. <see cref="Pool"/>: chunk payloads moving from a backup's workers to its sequencer.
/// Unlike ArrayPool.Shared, which keeps one array per size class in every thread that used one and up to 8 per size
/// class per core (over 100 MiB of idle megabyte buffers after a backup; a restore's peak grew with every thread the
/// pool added while workers waited on the disk), it keeps at most 2 per size class, so peak memory stays bounded by
/// what is in flight (4 per class measured 4 to 7 MiB more at the peak of a backup of /usr/share/dotnet, and no
/// faster). <see cref="ReadPool"/>: the sealed and decompressed blobs of a restore.
/// </summary>
internal static class BlobBuffers
{
    public static readonly ArrayPool<byte> Pool = ArrayPool<byte>.Create(maxArrayLength: 16 << 20, maxArraysPerBucket: 2);

    /// <summary>
    /// The restore's pool (<see cref="Repo.ReadBlobPooledAsync"/>): 8 per size class, one for each of its workers, so a
    /// restore does not drop and reallocate megabyte buffers (with 2, each such drop fed the large-object heap and a
    /// restore of /usr/share/dotnet ran 4 gen2 collections); about 3 MiB more at its peak, and 2 to 3% faster.
    /// </summary>
    public static readonly ArrayPool<byte> ReadPool = ArrayPool<byte>.Create(maxArrayLength: 16 << 20, maxArraysPerBucket: 8);
}
