namespace Strata.Sources;

/// <summary>Feeding a dump into a restore client's standard input.</summary>
internal static class Import
{
    /// <summary>
    /// Starts the client, writes the dump into its stdin, closes it and waits. The client's exit status decides:
    /// when it stops reading early (it failed), its own error output is the message, not the broken pipe. Any other
    /// failure of <paramref name="writeDump"/> (reading the repository) propagates, and the client is killed before
    /// it sees the end of its input (pg_restore in one transaction then restores nothing).
    /// </summary>
    public static async Task PipeAsync(CommandSpec spec, Func<Stream, CancellationToken, Task> writeDump, string what, CancellationToken ct)
    {
        await using var child = ChildProcess.Start(spec, streamStdout: false, writeStdin: true);
        var pipe = new PipeStream(child.Stdin);
        try
        {
            await writeDump(pipe, ct).ConfigureAwait(false);
            await pipe.FlushAsync(ct).ConfigureAwait(false);
        }
        catch (BrokenPipeException)
        {
            // the client stopped reading: its exit status and error output tell why
        }
        try
        {
            // end of input: the client finishes its work
            await child.Stdin.DisposeAsync().ConfigureAwait(false);
        }
        catch (IOException e)
        {
            pipe.Broken ??= e;
        }
        int status = await child.WaitAsync(ct).ConfigureAwait(false);
        if (status != 0)
        {
            throw CommandFailedException.Exited(spec.Name, status, $"while {what}", child.Stderr.LastLines());
        }
        if (pipe.Broken is { } broken)
        {
            throw new CommandFailedException($"{spec.Name} stopped reading the dump while {what}, though it reported success: {broken.Message}");
        }
    }

    private sealed class BrokenPipeException(IOException inner) : IOException(inner.Message, inner);

    /// <summary>The client's stdin; a write that fails is the client's doing, marked so it is not taken for a read error.</summary>
    private sealed class PipeStream(Stream inner) : Stream
    {
        public IOException? Broken { get; set; }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => Guard(inner.Flush);

        public override async Task FlushAsync(CancellationToken cancellationToken)
        {
            try
            {
                await inner.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                Broken ??= e;
                throw new BrokenPipeException(e);
            }
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Guard(() => inner.Write(buffer, offset, count));

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            try
            {
                await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                Broken ??= e;
                throw new BrokenPipeException(e);
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private void Guard(Action a)
        {
            try
            {
                a();
            }
            catch (IOException e)
            {
                Broken ??= e;
                throw new BrokenPipeException(e);
            }
        }
    }
}
