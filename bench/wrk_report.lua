-- wrk_report.lua — wrk's summary as one machine-readable line, for the server benchmarks
-- (serve_registry.sh): requests/s, latency percentiles (ms), and every kind of error, so the
-- script can refuse a run in which a response was not 2xx or a socket failed.
-- Optional: WRK_HEADER_FILE names a file of "Name: value" lines added to every request.
local path = os.getenv("WRK_HEADER_FILE")
if path then
  for line in io.lines(path) do
    local name, value = line:match("^([^:]+):%s*(.*)$")
    if name then wrk.headers[name] = value end
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_REPORT requests=%d seconds=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f " ..
    "connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3, e.connect, e.read, e.write, e.status, e.timeout))
end
