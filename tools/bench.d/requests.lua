-- wrk: send the requests of a file in turn (one block per request: the
-- path on the first line, then "Name: value" header lines, then an empty
-- line), and print the run's figures as one JSON line at the end.
--   wrk ... -s requests.lua URL -- FILE
local reqs = {}
local n = 0
local i = 0

init = function(args)
  local path, headers = nil, {}
  for line in io.lines(args[1]) do
    if line == "" then
      if path then
        n = n + 1
        reqs[n] = wrk.format("GET", path, headers)
      end
      path, headers = nil, {}
    elseif not path then
      path = line
    else
      local name, value = line:match("^([^:]+):%s*(.*)$")
      headers[name] = value
    end
  end
  if path then
    n = n + 1
    reqs[n] = wrk.format("GET", path, headers)
  end
  if n == 0 then
    error("no requests in " .. tostring(args[1]))
  end
end

request = function()
  i = i + 1
  if i > n then i = 1 end
  return reqs[i]
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,' ..
    '"mean_us":%.2f,"err_connect":%d,"err_read":%d,"err_write":%d,' ..
    '"err_status":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
