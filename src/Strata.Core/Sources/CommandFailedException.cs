namespace Strata.Sources;

/// <summary>
/// An external program (a dump tool, a restore client, a user's command) failed, or could not be started. The
/// message names the program, its exit status and the last lines it wrote to its error output; it never holds a
/// password (passwords only travel in the child's environment).
/// </summary>
public sealed class CommandFailedException : Exception
{
    public CommandFailedException(string message) : base(message) { }

    public CommandFailedException(string message, Exception inner) : base(message, inner) { }

    /// <summary>"pg_dump exited with status 1 ...", followed by the tail of what it wrote to stderr, indented.</summary>
    public static CommandFailedException Exited(string tool, int status, string what, string stderrTail)
    {
        string said = string.IsNullOrWhiteSpace(stderrTail)
            ? $"; {tool} wrote nothing to its error output"
            : $". Its last error output:\n" + string.Join("\n", stderrTail.TrimEnd().Split('\n').Select(l => "  " + l.TrimEnd('\r')));
        return new CommandFailedException($"{tool} {ExitDescription(status)} {what}{said}");
    }

    /// <summary>"exited with status 1", or "was killed by signal 9" (the shell convention 128+N for a signal).</summary>
    public static string ExitDescription(int status) =>
        status > 128 && status < 160 ? $"was killed by signal {status - 128}" : $"exited with status {status}";
}
