namespace Strata.Archiver;

/// <summary>
/// Counters the engine updates and the CLI polls to draw a progress bar or print JSON lines.
/// All members are safe to read from another thread.
/// </summary>
public sealed class BackupProgress
{
    private long _filesDone;
    private long _bytesDone;
    private long _filesTotal;
    private long _bytesTotal;
    private long _bytesAdded;
    private volatile bool _scanDone;
    private volatile string _current = "";

    public long FilesDone => Interlocked.Read(ref _filesDone);
    public long BytesDone => Interlocked.Read(ref _bytesDone);
    public long FilesTotal => Interlocked.Read(ref _filesTotal);
    public long BytesTotal => Interlocked.Read(ref _bytesTotal);
    public long BytesAdded => Interlocked.Read(ref _bytesAdded);
    public bool ScanDone => _scanDone;
    public string CurrentFile => _current;

    /// <summary>Raised for every file or folder that could not be read (also listed in the snapshot).</summary>
    public event Action<string, string>? Error;

    /// <summary>Raised for each file that changed while it was read.</summary>
    public event Action<string>? Changed;

    internal void FileDone(long bytes)
    {
        Interlocked.Increment(ref _filesDone);
        Interlocked.Add(ref _bytesDone, bytes);
    }

    internal void Reading(string path) => _current = path;

    /// <summary>Bytes of a stream backup as they arrive (its size is not known in advance).</summary>
    internal void Streamed(long bytes) => Interlocked.Add(ref _bytesDone, bytes);

    internal void Added(long bytes) => Interlocked.Add(ref _bytesAdded, bytes);

    internal void Scanned(long files, long bytes)
    {
        Interlocked.Add(ref _filesTotal, files);
        Interlocked.Add(ref _bytesTotal, bytes);
    }

    internal void ScanFinished() => _scanDone = true;

    internal void ReportError(string path, string message) => Error?.Invoke(path, message);

    internal void ReportChanged(string path) => Changed?.Invoke(path);
}
