-- wrk script for bench_fleet.py: each thread replays its own pre-sealed chunks (unique bodies).
local counter, threads = 0, {}
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  local dir = args[1]
  local f = assert(io.open(dir .. "/bodies-" .. tid .. ".bin", "rb"))
  blob = f:read("*a")
  f:close()
  idx, i, created, exists, other = {}, 0, 0, 0, 0
  for line in io.lines(dir .. "/index-" .. tid .. ".txt") do
    local tok, sha, off, len = line:match("(%S+) (%S+) (%d+) (%d+)")
    idx[#idx + 1] = {tok, sha, tonumber(off), tonumber(len)}
  end
end
function request()
  i = i + 1
  local e = idx[((i - 1) % #idx) + 1]
  return wrk.format("PUT", "/v1/chunks/" .. e[2],
    {["Authorization"] = "Bearer " .. e[1], ["Content-Type"] = "application/octet-stream"},
    blob:sub(e[3] + 1, e[3] + e[4]))
end
function response(status, headers, body)
  if status == 201 then created = created + 1
  elseif status == 200 then exists = exists + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local c, e, o = 0, 0, 0
  for _, t in ipairs(threads) do
    c, e, o = c + t:get("created"), e + t:get("exists"), o + t:get("other")
  end
  io.write(string.format('WRKJSON {"created":%d,"exists":%d,"other":%d,"requests":%d,"duration_us":%d,' ..
    '"p50_ms":%.2f,"p99_ms":%.2f,"max_ms":%.2f,"socket_errors":%d}\n',
    c, e, o, summary.requests, summary.duration, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
