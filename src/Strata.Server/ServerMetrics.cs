using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Strata.Stores;

namespace Strata.Server;

/// <summary>
/// Counters for /metrics, in Prometheus text format (version 0.0.4). Per repository: requests by method and status,
/// bytes received and sent, errors (status 400 and up, 401/403 included), active locks (counted at scrape time),
/// and uploads in flight. Memory: one entry per (repository, method, status) seen.
/// </summary>
internal sealed class ServerMetrics
{
    private readonly ConcurrentDictionary<(string Repo, string Method, int Status), long> _requests = new();
    private readonly ConcurrentDictionary<string, long[]> _bytes = new(StringComparer.Ordinal);
    private long _uploadsInFlight;

    public long UploadsInFlight => Interlocked.Read(ref _uploadsInFlight);

    public void UploadStarted() => Interlocked.Increment(ref _uploadsInFlight);

    public void UploadEnded() => Interlocked.Decrement(ref _uploadsInFlight);

    public void Record(string repo, string method, int status, long bytesIn, long bytesOut)
    {
        _requests.AddOrUpdate((repo, method, status), 1, (_, v) => v + 1);
        long[] b = _bytes.GetOrAdd(repo, _ => new long[2]);
        Interlocked.Add(ref b[0], bytesIn);
        Interlocked.Add(ref b[1], bytesOut);
    }

    public async Task<string> RenderAsync(IReadOnlyList<ServedRepository> repos, CancellationToken ct)
    {
        var sb = new StringBuilder();
        sb.Append("# HELP strata_server_requests_total HTTP requests by repository, method and status.\n# TYPE strata_server_requests_total counter\n");
        foreach (var kv in _requests.OrderBy(k => k.Key.Repo, StringComparer.Ordinal).ThenBy(k => k.Key.Method, StringComparer.Ordinal).ThenBy(k => k.Key.Status))
        {
            sb.Append(CultureInfo.InvariantCulture, $"strata_server_requests_total{{repo=\"{Escape(kv.Key.Repo)}\",method=\"{kv.Key.Method}\",status=\"{kv.Key.Status}\"}} {kv.Value}\n");
        }
        sb.Append("# HELP strata_server_errors_total Requests answered with status 400 or more, by repository.\n# TYPE strata_server_errors_total counter\n");
        foreach (var g in _requests.Where(k => k.Key.Status >= 400).GroupBy(k => k.Key.Repo).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            sb.Append(CultureInfo.InvariantCulture, $"strata_server_errors_total{{repo=\"{Escape(g.Key)}\"}} {g.Sum(k => k.Value)}\n");
        }
        sb.Append("# HELP strata_server_received_bytes_total Request body bytes received, by repository.\n# TYPE strata_server_received_bytes_total counter\n");
        foreach (var kv in _bytes.OrderBy(k => k.Key, StringComparer.Ordinal))
        {
            sb.Append(CultureInfo.InvariantCulture, $"strata_server_received_bytes_total{{repo=\"{Escape(kv.Key)}\"}} {Interlocked.Read(ref kv.Value[0])}\n");
        }
        sb.Append("# HELP strata_server_sent_bytes_total Response body bytes sent, by repository.\n# TYPE strata_server_sent_bytes_total counter\n");
        foreach (var kv in _bytes.OrderBy(k => k.Key, StringComparer.Ordinal))
        {
            sb.Append(CultureInfo.InvariantCulture, $"strata_server_sent_bytes_total{{repo=\"{Escape(kv.Key)}\"}} {Interlocked.Read(ref kv.Value[1])}\n");
        }
        sb.Append("# HELP strata_server_active_locks Lock objects in the repository now.\n# TYPE strata_server_active_locks gauge\n");
        foreach (ServedRepository r in repos)
        {
            long locks = 0;
            try
            {
                await foreach (ObjectInfo _ in r.Store.ListAsync(ObjectKind.Locks, ct).ConfigureAwait(false))
                {
                    locks++;
                }
            }
            catch (StoreException)
            {
                locks = -1;
            }
            sb.Append(CultureInfo.InvariantCulture, $"strata_server_active_locks{{repo=\"{Escape(r.Label)}\"}} {locks}\n");
        }
        sb.Append("# HELP strata_server_uploads_in_flight Uploads being received now.\n# TYPE strata_server_uploads_in_flight gauge\n");
        sb.Append(CultureInfo.InvariantCulture, $"strata_server_uploads_in_flight {UploadsInFlight}\n");
        return sb.ToString();
    }

    private static string Escape(string s) => s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);
}
