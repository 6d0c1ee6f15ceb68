using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Strata.Maintenance;
using Strata.Repository;
using Strata.Stores;

namespace Strata.Server;

/// <summary>One served repository to mirror: its store, and how to open the target once its config is known.</summary>
/// <param name="MakeTarget">Opens the target store for a repository with this config (its cold class decides where data packs go).</param>
public sealed record MirrorJob(string Label, IStore Source, string TargetDescription, Func<RepoConfig, CancellationToken, Task<IStore>> MakeTarget);

/// <summary>
/// <c>strata serve --mirror-to STORE --mirror-every 6h</c>: runs <see cref="Mirror"/> for every served repository at
/// start and then on the interval, one repository at a time. Reports each run as JSON log lines (started, progress
/// every minute, finished or failed) and as metrics. A failed run is retried at the next interval; since a mirror
/// copies only what is missing, the next run resumes it. A repository not initialised yet is skipped.
/// </summary>
public sealed class MirrorService
{
    private readonly IReadOnlyList<MirrorJob> _jobs;
    private readonly TimeSpan _every;
    private readonly TextWriter? _log;
    private readonly Lock _logLock = new();
    private readonly ConcurrentDictionary<string, State> _states = new(StringComparer.Ordinal);

    private sealed class State
    {
        public long RunsOk;
        public long RunsFailed;
        public long ObjectsCopied;
        public long BytesCopied;
        public long Pending;
        public int Running;
        public double LastSuccess;
        public Mirror? Current;
    }

    public MirrorService(IReadOnlyList<MirrorJob> jobs, TimeSpan every, TextWriter? log)
    {
        _jobs = jobs;
        _every = every;
        _log = log;
        foreach (MirrorJob j in jobs)
        {
            _states[j.Label] = new State();
        }
    }

    /// <summary>Progress is logged this often while a run goes on.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Runs until cancelled: a pass over every repository, then a wait of the interval.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        try
        {
            while (true)
            {
                foreach (MirrorJob job in _jobs)
                {
                    await RunOnceAsync(job, ct).ConfigureAwait(false);
                }
                await Task.Delay(_every, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    /// <summary>One mirror run of one repository; never throws except on cancellation.</summary>
    public async Task RunOnceAsync(MirrorJob job, CancellationToken ct)
    {
        State st = _states[job.Label];
        RepoConfig config;
        try
        {
            config = await Repo.ReadConfigAsync(job.Source, ct).ConfigureAwait(false);
        }
        catch (RepositoryNotFoundException)
        {
            Log(job, "skipped", ("reason", "no repository here yet"));
            return;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Interlocked.Increment(ref st.RunsFailed);
            Log(job, "failed", ("error", e.Message));
            return;
        }
        Interlocked.Exchange(ref st.Running, 1);
        Log(job, "started", ("to", job.TargetDescription));
        using var progressStop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        Task? progress = null;
        try
        {
            await using IStore target = await job.MakeTarget(config, ct).ConfigureAwait(false);
            var mirror = new Mirror(job.Source, target)
            {
                Copied = o =>
                {
                    Interlocked.Increment(ref st.ObjectsCopied);
                    Interlocked.Add(ref st.BytesCopied, o.Length);
                    Interlocked.Decrement(ref st.Pending);
                },
                Planned = (n, bytes) =>
                {
                    Interlocked.Exchange(ref st.Pending, n);
                    Log(job, "planned", ("objects", n), ("bytes", bytes));
                },
            };
            st.Current = mirror;
            progress = ReportProgressAsync(job, mirror, progressStop.Token);
            MirrorResult r = await mirror.RunAsync(ct).ConfigureAwait(false);
            if (r.Problems.Count > 0)
            {
                Interlocked.Increment(ref st.RunsFailed);
                Log(job, "failed", ("copied", r.Copied), ("bytes", r.BytesCopied), ("problems", r.Problems.Count), ("error", string.Join("; ", r.Problems.Take(5))));
            }
            else
            {
                Interlocked.Increment(ref st.RunsOk);
                Interlocked.Exchange(ref st.Pending, 0);
                Interlocked.Exchange(ref st.LastSuccess, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0);
                Log(job, "finished", ("copied", r.Copied), ("bytes", r.BytesCopied), ("already_there", r.AlreadyThere), ("vanished", r.Vanished));
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            Interlocked.Increment(ref st.RunsFailed);
            Log(job, "failed", ("error", e.Message));
        }
        finally
        {
            st.Current = null;
            Interlocked.Exchange(ref st.Running, 0);
            await progressStop.CancelAsync().ConfigureAwait(false);
            if (progress is not null)
            {
                await progress.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private async Task ReportProgressAsync(MirrorJob job, Mirror mirror, CancellationToken ct)
    {
        while (true)
        {
            await Task.Delay(ProgressInterval, ct).ConfigureAwait(false);
            Log(job, "progress", ("copied", mirror.ObjectsCopied), ("planned", mirror.ObjectsPlanned), ("bytes", mirror.BytesCopied));
        }
    }

    private void Log(MirrorJob job, string evt, params (string Key, object Value)[] fields)
    {
        if (_log is null)
        {
            return;
        }
        using var ms = new MemoryStream();
        using (var json = new Utf8JsonWriter(ms))
        {
            json.WriteStartObject();
            json.WriteString("time", DateTimeOffset.UtcNow);
            json.WriteString("mirror", evt);
            json.WriteString("repo", job.Label);
            foreach (var (k, v) in fields)
            {
                switch (v)
                {
                    case int i: json.WriteNumber(k, i); break;
                    case long l: json.WriteNumber(k, l); break;
                    default: json.WriteString(k, v.ToString()); break;
                }
            }
            json.WriteEndObject();
        }
        string line = Encoding.UTF8.GetString(ms.GetBuffer(), 0, (int)ms.Length);
        lock (_logLock)
        {
            _log.WriteLine(line);
            _log.Flush();
        }
    }

    /// <summary>The mirror's metrics in Prometheus text format.</summary>
    public string RenderMetrics()
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        void Family(string name, string type, string help, Func<State, string> value)
        {
            sb.Append(inv, $"# HELP {name} {help}\n# TYPE {name} {type}\n");
            foreach (var kv in _states.OrderBy(k => k.Key, StringComparer.Ordinal))
            {
                sb.Append(inv, $"{name}{{repo=\"{kv.Key.Replace("\"", "\\\"", StringComparison.Ordinal)}\"}} {value(kv.Value)}\n");
            }
        }
        Family("strata_mirror_runs_ok_total", "counter", "Mirror runs that copied everything missing.", s => Interlocked.Read(ref s.RunsOk).ToString(inv));
        Family("strata_mirror_runs_failed_total", "counter", "Mirror runs that failed or left objects out.", s => Interlocked.Read(ref s.RunsFailed).ToString(inv));
        Family("strata_mirror_objects_copied_total", "counter", "Objects copied to the mirror.", s => Interlocked.Read(ref s.ObjectsCopied).ToString(inv));
        Family("strata_mirror_bytes_copied_total", "counter", "Bytes copied to the mirror.", s => Interlocked.Read(ref s.BytesCopied).ToString(inv));
        Family("strata_mirror_objects_pending", "gauge", "Objects the running (or last failed) mirror run still has to copy.", s => Interlocked.Read(ref s.Pending).ToString(inv));
        Family("strata_mirror_running", "gauge", "1 while a mirror run goes on.", s => Volatile.Read(ref s.Running).ToString(inv));
        Family("strata_mirror_last_success_timestamp_seconds", "gauge", "Unix time of the last complete mirror run (0: none yet).", s => Volatile.Read(ref s.LastSuccess).ToString("0.###", inv));
        return sb.ToString();
    }
}
