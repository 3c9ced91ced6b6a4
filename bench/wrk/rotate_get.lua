-- GET the paths of WRK_PATHS_FILE (one a line) in turn, with the Authorization header WRK_AUTH.
-- An answer is bad when it is not 200, or its body does not match the Lua pattern WRK_EXPECT, or
-- matches WRK_REJECT. done() writes to WRK_REPORT: the request count, the bad answers, wrk's
-- socket errors, and the whole latency histogram (microseconds and count per line), so that the
-- histograms of several wrk processes can be merged into exact percentiles.
local paths = {}
for line in io.lines(os.getenv("WRK_PATHS_FILE")) do
  if line ~= "" then
    paths[#paths + 1] = line
  end
end
local auth = os.getenv("WRK_AUTH")
local expect = os.getenv("WRK_EXPECT") or ""
local reject = os.getenv("WRK_REJECT") or ""
local threads = {}
local next_path = 0
bad = 0

function setup(thread)
  table.insert(threads, thread)
end

function request()
  next_path = next_path % #paths + 1
  return wrk.format("GET", paths[next_path], { ["Authorization"] = auth })
end

function response(status, headers, body)
  if status ~= 200
    or (expect ~= "" and not string.find(body, expect))
    or (reject ~= "" and string.find(body, reject)) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local out = assert(io.open(os.getenv("WRK_REPORT"), "w"))
  local answered_bad = 0
  for _, thread in ipairs(threads) do
    answered_bad = answered_bad + thread:get("bad")
  end
  local errors = summary.errors
  out:write(string.format("requests %d\n", summary.requests))
  out:write(string.format("duration_us %d\n", summary.duration))
  out:write(string.format("bad %d\n", answered_bad))
  out:write(string.format(
    "socket_errors %d\n", errors.connect + errors.read + errors.write + errors.timeout
  ))
  for i = 1, #latency do
    local value, count = latency(i)
    out:write(string.format("latency %d %d\n", value, count))
  end
  out:close()
end
