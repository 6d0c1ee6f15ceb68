using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace Strata.Sources;

/// <summary>What to start: the program, its arguments (never a password) and extra environment (where passwords go).</summary>
public sealed record CommandSpec(string Program, IReadOnlyList<string> Arguments)
{
    /// <summary>Variables added to (or, with a null value, removed from) the inherited environment.</summary>
    public IReadOnlyDictionary<string, string?> Environment { get; init; } = new Dictionary<string, string?>();

    /// <summary>The name used in messages: the program's file name (pg_dump, mariadb, sh).</summary>
    public string Name => Path.GetFileName(Program);
}

/// <summary>
/// A child process whose standard error (and standard output, unless the caller streams it) is read into a bounded
/// tail, so the child never blocks on a full pipe and a failure can show what it said. Standard input is a pipe the
/// caller writes (for an import) or closed at once; never this process's own standard input, which may be the data
/// of a --stdin backup or a terminal. Disposing kills a child that is still running, with its own children.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Task _stderrReader;
    private readonly Task _stdoutReader;

    private ChildProcess(CommandSpec spec, Process process, bool streamStdout)
    {
        Spec = spec;
        _process = process;
        _stderrReader = Stderr.FillFromAsync(process.StandardError.BaseStream);
        _stdoutReader = streamStdout ? Task.CompletedTask : StdoutTail.FillFromAsync(process.StandardOutput.BaseStream);
    }

    public CommandSpec Spec { get; }

    public OutputTail Stderr { get; } = new();

    /// <summary>What the child wrote to stdout, when the caller does not stream it.</summary>
    public OutputTail StdoutTail { get; } = new();

    /// <summary>The child's standard output as a stream (only when started with streamStdout).</summary>
    public Stream Stdout => _process.StandardOutput.BaseStream;

    /// <summary>The child's standard input (only when started with writeStdin); dispose it to signal the end of the data.</summary>
    public Stream Stdin => _process.StandardInput.BaseStream;

    /// <summary>Starts the program. A program that cannot be started (not installed) is a <see cref="CommandFailedException"/>.</summary>
    public static ChildProcess Start(CommandSpec spec, bool streamStdout, bool writeStdin)
    {
        var psi = new ProcessStartInfo(spec.Program)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            // no byte order mark in front of the data we write
            StandardInputEncoding = new UTF8Encoding(false),
        };
        foreach (string a in spec.Arguments)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var (k, v) in spec.Environment)
        {
            if (v is null)
            {
                psi.Environment.Remove(k);
            }
            else
            {
                psi.Environment[k] = v;
            }
        }
        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new CommandFailedException($"cannot start {spec.Name}");
        }
        catch (Win32Exception e)
        {
            throw new CommandFailedException($"cannot start {spec.Program}: {e.Message}", e);
        }
        var child = new ChildProcess(spec, process, streamStdout);
        if (!writeStdin)
        {
            process.StandardInput.BaseStream.Dispose();
        }
        return child;
    }

    /// <summary>Waits for the child to exit and for its outputs to be read to their end; returns the exit status.</summary>
    public async Task<int> WaitAsync(CancellationToken ct)
    {
        await _process.WaitForExitAsync(ct).ConfigureAwait(false);
        await Task.WhenAll(_stderrReader, _stdoutReader).ConfigureAwait(false);
        return _process.ExitCode;
    }

    /// <summary>Runs a program to its end and returns (status, stdout tail, stderr tail); for short helper runs.</summary>
    public static async Task<(int Status, string Stdout, string Stderr)> RunAsync(CommandSpec spec, byte[]? input, CancellationToken ct)
    {
        await using var child = Start(spec, streamStdout: false, writeStdin: input is not null);
        if (input is not null)
        {
            try
            {
                await child.Stdin.WriteAsync(input, ct).ConfigureAwait(false);
            }
            catch (IOException)
            {
                // it stopped reading: its exit status and error output say why
            }
            await child.Stdin.DisposeAsync().ConfigureAwait(false);
        }
        int status = await child.WaitAsync(ct).ConfigureAwait(false);
        return (status, child.StdoutTail.LastLines(), child.Stderr.LastLines());
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or Win32Exception)
        {
            // it exited between the check and the kill
        }
        await Task.WhenAll(_stderrReader, _stdoutReader).ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).ConfigureAwait(false);
        _process.Dispose();
    }
}
