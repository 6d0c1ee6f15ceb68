namespace Strata.Archiver;

/// <summary>
/// Admits files between the walker and the sequencer: at most <c>files</c> files, and at most <c>bytes</c> of charge,
/// a file's charge being what it can hold in chunk buffers while it waits for the sequencer (its size, at most
/// <see cref="MaxCharge"/>: a waiting file's worker stops after a few chunks). Files are admitted in walk order and
/// given back in the same order by the sequencer, so the file the sequencer waits for is always admitted already and
/// waiting here never holds it up. Many small files may run ahead of one large file, which keeps every worker busy
/// while the large file is compressed, without letting a folder of large files pile up in memory.
/// </summary>
internal sealed class InFlight(int files, long bytes)
{
    /// <summary>The most one file is charged: about what a waiting file holds (two queued chunks and the one being emitted).</summary>
    public const long MaxCharge = 4 << 20;

    private readonly Lock _lock = new();
    private readonly Queue<(long Charge, TaskCompletionSource Admitted)> _waiting = new();
    private readonly long _capacity = bytes;
    private int _files = files;
    private long _bytes = bytes;

    /// <summary>A file's charge for its size.</summary>
    public long ChargeFor(long size) => Math.Clamp(size, 0, Math.Min(MaxCharge, _capacity));

    /// <summary>Waits until the file fits (in order: nobody overtakes an earlier waiter).</summary>
    public Task TakeAsync(long charge, CancellationToken ct)
    {
        lock (_lock)
        {
            if (_waiting.Count == 0 && Fits(charge))
            {
                _files--;
                _bytes -= charge;
                return Task.CompletedTask;
            }
            var admitted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiting.Enqueue((charge, admitted));
            return admitted.Task.WaitAsync(ct);
        }
    }

    /// <summary>A file the sequencer is done with.</summary>
    public void Give(long charge)
    {
        List<TaskCompletionSource>? wake = null;
        lock (_lock)
        {
            _files++;
            _bytes += charge;
            while (_waiting.TryPeek(out var next) && Fits(next.Charge))
            {
                _waiting.Dequeue();
                _files--;
                _bytes -= next.Charge;
                (wake ??= []).Add(next.Admitted);
            }
        }
        wake?.ForEach(w => w.TrySetResult());
    }

    private bool Fits(long charge) => _files > 0 && _bytes >= charge;
}
