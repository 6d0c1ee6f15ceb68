using Strata.Crypto;
using Strata.Platform;
using Strata.Repository;
using Strata.Stores;

namespace Strata.Cli;

/// <summary>Exit codes (restic's where they overlap); documented in README.md.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    public const int Failure = 1;
    public const int Usage = 2;
    /// <summary>The backup finished but some files could not be read; the snapshot lists them.</summary>
    public const int Partial = 3;
    /// <summary>check found problems, or restore could not restore every file.</summary>
    public const int Damaged = 4;
    /// <summary>A cold restore or dump did what was readable and waits for thaws: run it again (or --resume) later.</summary>
    public const int WaitingForThaw = 5;
    /// <summary>A file of a worm source was modified, deleted or replaced (backup: since the previous backup; verify: on disk against the snapshot).</summary>
    public const int WormChanged = 6;
    /// <summary>verify found differences between the disk and the snapshot (a source without policy worm, or only new files / metadata).</summary>
    public const int VerifyDifferences = 7;
    public const int NoRepository = 10;
    /// <summary>Another run holds a conflicting repository lock (restic's code for "failed to lock repository").</summary>
    public const int Locked = 11;
    public const int WrongPassword = 12;
    public const int WriterKey = 13;

    /// <summary>The only place an exception becomes a message and an exit code. No stack traces for user errors.</summary>
    public static int Report(Exception e)
    {
        (int code, string message) = e switch
        {
            OperationCanceledException => (130, "interrupted"),
            RepositoryNotFoundException => (NoRepository, e.Message),
            Locks.LockConflictException => (Locked, e.Message),
            Locks.LockLostException => (Failure, e.Message),
            WrongPasswordException => (WrongPassword, e.Message),
            WriterKeyException => (WriterKey, e.Message),
            UserInputException => (Usage, e.Message),
            CorruptionException => (Damaged, e.Message),
            RepositoryFormatException => (Failure, e.Message),
            StoreException => (Failure, e.Message),
            PosixException => (Failure, e.Message),
            CryptoFailureException => (Failure, e.Message),
            Sources.CommandFailedException => (Failure, e.Message),
            IOException or UnauthorizedAccessException => (Failure, e.Message),
            _ => (Failure, $"internal error: {e.GetType().Name}: {e.Message}"),
        };
        Console.Error.WriteLine($"strata: {message}");
        if (code == Failure && e is not (StoreException or RepositoryFormatException or IOException or UnauthorizedAccessException or PosixException or Sources.CommandFailedException)
            && Environment.GetEnvironmentVariable("STRATA_DEBUG") == "1")
        {
            Console.Error.WriteLine(e);
        }
        return code;
    }
}
