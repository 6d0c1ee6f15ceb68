using System.Buffers;

namespace Strata.Repository;

/// <summary>
/// The pool for blob-sized buffers: chunk payloads moving from a backup's workers to its sequencer, and the sealed and
/// decompressed blobs of a restore (<see cref="Repo.ReadBlobPooledAsync"/>). Unlike ArrayPool.Shared, which keeps one
/// array per size class in every thread that used one and up to 8 per size class per core (over 100 MiB of idle
/// megabyte buffers after a backup; a restore's peak grew with every thread the pool added while workers waited on
/// the disk), it keeps at most 2 per size class, so peak memory stays bounded by what is in flight (4 per class
/// measured 4 to 7 MiB more at the peak of a backup of /usr/share/dotnet, and no faster).
/// </summary>
internal static class BlobBuffers
{
    public static readonly ArrayPool<byte> Pool = ArrayPool<byte>.Create(maxArrayLength: 16 << 20, maxArraysPerBucket: 2);
}
