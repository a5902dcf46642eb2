-- wrk script: GET by id, or filter userName eq, over ids/names loaded by
-- ops/bench into the file named by SCIMLOG_BENCH_KEYS (one per line).
-- Requests are formatted once at start-up and replayed round-robin from a
-- random offset, so wrk's own per-request Lua work (which shares the cores
-- with the server) stays small.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SCIMLOG_TOKEN")
local mode, base = os.getenv("SCIMLOG_BENCH_MODE"), os.getenv("SCIMLOG_BENCH_BASE")
local reqs = {}
for line in io.lines(os.getenv("SCIMLOG_BENCH_KEYS")) do
  local path = base .. "/Users/" .. line
  if mode == "filter" then
    path = base .. "/Users?filter=userName+eq+%22" .. line .. "%22"
  end
  reqs[#reqs + 1] = wrk.format("GET", path)
end
local i = 0
function init(args)
  i = math.random(0, #reqs - 1)
end
request = function()
  i = i % #reqs + 1
  return reqs[i]
end
