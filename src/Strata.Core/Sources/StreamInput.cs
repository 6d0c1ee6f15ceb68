using Strata.Snapshots;

namespace Strata.Sources;

/// <summary>
/// The bytes of a stream backup: read <see cref="Data"/> to its end, then call <see cref="CompleteAsync"/>, which
/// throws a <see cref="CommandFailedException"/> when the producer failed (so no snapshot is recorded for it).
/// Disposing stops a producer that is still running.
/// </summary>
public abstract class StreamInput : IAsyncDisposable
{
    public abstract SourceInfo Info { get; }

    public abstract Stream Data { get; }

    /// <summary>Called after <see cref="Data"/> reached its end; <paramref name="bytesRead"/> is for the message.</summary>
    public abstract Task CompleteAsync(long bytesRead, CancellationToken ct);

    /// <summary>Warnings the producer printed though it succeeded (its error output), for the user to see.</summary>
    public virtual string Warnings => "";

    public abstract ValueTask DisposeAsync();

    /// <summary>A file name for the snapshot: one path component, no '/', not "." or "..", no NUL, at most 255 bytes.</summary>
    public static string CheckFileName(string name, string option)
    {
        if (name.Length == 0 || name == "." || name == ".." || name.Contains('/') || name.Contains('\0')
            || System.Text.Encoding.UTF8.GetByteCount(name) > 255)
        {
            throw new Repository.UserInputException($"{option} '{name}': give a plain file name (no '/', not '.' or '..', at most 255 bytes); the snapshot holds it as /NAME");
        }
        return name;
    }

    /// <summary>"3.2 MiB" style size for messages.</summary>
    internal static string Size(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} bytes",
        < 1024 * 1024 => $"{bytes / 1024.0:0.#} KiB",
        < 1024L * 1024 * 1024 => $"{bytes / (1024.0 * 1024):0.#} MiB",
        _ => $"{bytes / (1024.0 * 1024 * 1024):0.##} GiB",
    };
}

/// <summary>This process's standard input (--stdin).</summary>
public sealed class StdinInput(string fileName) : StreamInput
{
    private readonly Stream _stdin = Console.OpenStandardInput();

    public override SourceInfo Info { get; } = new() { Kind = "stdin", FileName = fileName };

    public override Stream Data => _stdin;

    public override Task CompleteAsync(long bytesRead, CancellationToken ct) => Task.CompletedTask;

    public override ValueTask DisposeAsync() => _stdin.DisposeAsync();
}

/// <summary>
/// The standard output of a program: a user's shell command (--stdin-from-command) or a dump tool. The data is
/// streamed, never stored in a temporary file. A non-zero exit status fails the backup with the program's last
/// error output, even when it wrote data first (a dump that breaks halfway is not a backup).
/// </summary>
public sealed class CommandInput : StreamInput
{
    private readonly ChildProcess _child;
    private readonly string _what;

    private CommandInput(ChildProcess child, SourceInfo info, string what)
    {
        _child = child;
        Info = info;
        _what = what;
    }

    public override SourceInfo Info { get; }

    public override Stream Data => _child.Stdout;

    public override string Warnings => _child.Stderr.LastLines();

    /// <param name="what">What the program does, for the failure message ("dumping database shop").</param>
    public static CommandInput Start(CommandSpec spec, SourceInfo info, string what) =>
        new(ChildProcess.Start(spec, streamStdout: true, writeStdin: false), info, what);

    /// <summary>A user's command, run by /bin/sh -c.</summary>
    public static CommandInput Shell(string command, string fileName) =>
        Start(new CommandSpec("/bin/sh", ["-c", command]), new SourceInfo { Kind = "command", FileName = fileName, Tool = "/bin/sh" }, "running the command");

    public override async Task CompleteAsync(long bytesRead, CancellationToken ct)
    {
        int status = await _child.WaitAsync(ct).ConfigureAwait(false);
        if (status != 0)
        {
            string when = bytesRead > 0 ? $"after writing {Size(bytesRead)}" : "before writing anything";
            throw CommandFailedException.Exited(_child.Spec.Name, status, $"while {_what}, {when}; no snapshot was saved", _child.Stderr.LastLines());
        }
    }

    public override ValueTask DisposeAsync() => _child.DisposeAsync();
}
