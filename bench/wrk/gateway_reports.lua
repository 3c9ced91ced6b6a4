-- POST one seed 002 gateway delivery report per request ({sendId, mobile, times, status}), each
-- naming the next "sendId mobile" line of WRK_PAIRS_FILE, to the path WRK_PATH (its ?token=).
-- Once every line has been answered the thread stops and creates the file WRK_DONE_FILE: wrk's
-- main thread sleeps out its -d whatever its threads do, so the caller interrupts it then (SIGINT).
-- Requests sent meanwhile (at most one per connection) repeat the first lines: a provider's
-- resend, which must change nothing. An answer is bad when it is not 2xx. done() writes to
-- WRK_REPORT: the requests answered and sent, the bad answers, wrk's socket errors, the latency
-- percentiles (microseconds), and the wall-clock times (Unix seconds) of the first request and of
-- the answer that completed the lines, which time the run (wrk's own duration is its -d).
local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_usec; } intake_timeval;
int gettimeofday(intake_timeval *tv, void *tz);
]])
local timeval = ffi.new("intake_timeval")
local function now()
  ffi.C.gettimeofday(timeval, nil)
  return tonumber(timeval.tv_sec) + tonumber(timeval.tv_usec) / 1e6
end

local lines = {}
for line in io.lines(os.getenv("WRK_PAIRS_FILE")) do
  local send_id, mobile = line:match("^(%S+)%s+(%S+)$")
  if send_id then
    lines[#lines + 1] = { send_id, mobile }
  end
end
local path = os.getenv("WRK_PATH")
local times = os.getenv("WRK_TIMES")
local headers = { ["Content-Type"] = "application/json" }
local threads = {}
sent = 0
answered = 0
bad = 0
first_sent = 0
completed = 0

function setup(thread)
  table.insert(threads, thread)
end

function request()
  if sent == 0 then
    first_sent = now()
  end
  sent = sent + 1
  local pair = lines[(sent - 1) % #lines + 1]
  local body = string.format(
    '{"sendId":"%s","mobile":"%s","times":"%s","status":"DELIVRD"}', pair[1], pair[2], times
  )
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  answered = answered + 1
  if status < 200 or status > 299 then
    bad = bad + 1
  end
  if answered == #lines then
    completed = now()
    assert(io.open(os.getenv("WRK_DONE_FILE"), "w")):close()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local out = assert(io.open(os.getenv("WRK_REPORT"), "w"))
  local total_sent, total_bad, first, last = 0, 0, nil, 0
  for _, thread in ipairs(threads) do
    total_sent = total_sent + thread:get("sent")
    total_bad = total_bad + thread:get("bad")
    first = math.min(first or thread:get("first_sent"), thread:get("first_sent"))
    last = math.max(last, thread:get("completed"))
  end
  local errors = summary.errors
  out:write(string.format("requests %d\n", summary.requests))
  out:write(string.format("sent %d\n", total_sent))
  out:write(string.format("duration_us %d\n", summary.duration))
  out:write(string.format("first_sent %.6f\n", first or 0))
  out:write(string.format("completed %.6f\n", last))
  out:write(string.format("bad %d\n", total_bad))
  out:write(string.format("status_errors %d\n", errors.status))
  out:write(string.format(
    "socket_errors %d\n", errors.connect + errors.read + errors.write + errors.timeout
  ))
  for _, p in ipairs({ 50, 90, 99, 99.9 }) do
    out:write(string.format("p%s_us %d\n", p, latency:percentile(p)))
  end
  out:write(string.format("max_us %d\n", latency.max))
  out:write(string.format("mean_us %d\n", latency.mean))
  out:close()
end
