using System.Buffers;

namespace Strata.Archiver;

/// <summary>
/// The pool for chunk payloads moving from workers to the sequencer. Unlike ArrayPool.Shared, which keeps
/// up to 8 arrays per size class per core (over 100 MiB of idle megabyte buffers after a backup), it keeps
/// at most 4 per size class, so peak memory stays bounded by what is in flight.
/// </summary>
internal static class BlobBuffers
{
    public static readonly ArrayPool<byte> Pool = ArrayPool<byte>.Create(maxArrayLength: 16 << 20, maxArraysPerBucket: 4);
}
