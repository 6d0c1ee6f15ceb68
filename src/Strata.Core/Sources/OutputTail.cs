using System.Text;

namespace Strata.Sources;

/// <summary>
/// The last bytes a child process wrote to one of its outputs: enough for an error message, bounded so a chatty
/// program cannot fill memory. Thread-safe: filled by a reader task, read after the process exited.
/// </summary>
public sealed class OutputTail
{
    private const int Keep = 16 * 1024;
    private readonly Lock _lock = new();
    private readonly byte[] _buffer = new byte[Keep * 2];
    private int _length;

    public void Append(ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            if (data.Length >= Keep)
            {
                data[^Keep..].CopyTo(_buffer);
                _length = Keep;
                return;
            }
            if (_length + data.Length > _buffer.Length)
            {
                // keep the last Keep bytes, then append
                int drop = _length - Keep;
                Buffer.BlockCopy(_buffer, drop, _buffer, 0, Keep);
                _length = Keep;
            }
            data.CopyTo(_buffer.AsSpan(_length));
            _length += data.Length;
        }
    }

    /// <summary>The last <paramref name="lines"/> non-empty lines, decoded as UTF-8 (invalid bytes replaced).</summary>
    public string LastLines(int lines = 20)
    {
        string text;
        lock (_lock)
        {
            text = Encoding.UTF8.GetString(_buffer, 0, _length);
        }
        var all = text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).ToList();
        return string.Join("\n", all.Skip(Math.Max(0, all.Count - lines)));
    }

    /// <summary>Copies a stream into a tail until its end; for the reader task of a child's output.</summary>
    public async Task FillFromAsync(Stream source)
    {
        byte[] chunk = new byte[4096];
        try
        {
            while (true)
            {
                int n = await source.ReadAsync(chunk).ConfigureAwait(false);
                if (n == 0)
                {
                    return;
                }
                Append(chunk.AsSpan(0, n));
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // the process was killed and its pipe closed: what was read is what there is
        }
    }
}
