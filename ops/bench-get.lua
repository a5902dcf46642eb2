-- wrk script: GET by id, or filter userName eq, over ids/names loaded by
-- ops/bench into the file named by SCIMLOG_BENCH_KEYS (one per line).
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SCIMLOG_TOKEN")
local keys, mode = {}, os.getenv("SCIMLOG_BENCH_MODE")
for line in io.lines(os.getenv("SCIMLOG_BENCH_KEYS")) do keys[#keys + 1] = line end
local base = os.getenv("SCIMLOG_BENCH_BASE")
request = function()
  local k = keys[math.random(1, #keys)]
  if mode == "filter" then
    return wrk.format("GET", base .. "/Users?filter=userName+eq+%22" .. k .. "%22")
  end
  return wrk.format("GET", base .. "/Users/" .. k)
end
