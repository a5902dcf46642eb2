-- wrk script for ops/bench-reports: reports queries over the 1M-record
-- data set. SCIMLOG_BENCH_MODE = history (one user's history), range (a
-- random 1-hour window in the last 30 days, page of 100) or summary.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SCIMLOG_TOKEN")
local mode = os.getenv("SCIMLOG_BENCH_MODE")
local users = tonumber(os.getenv("SCIMLOG_BENCH_USERS"))
request = function()
  if mode == "history" then
    return wrk.format("GET", string.format(
      "/reports/v1/bench/resources/user-%08d/history", math.random(0, users - 1)))
  elseif mode == "range" then
    local m = math.random(60, 43200)
    return wrk.format("GET", string.format(
      "/reports/v1/bench/changes?from=-%dm&to=-%dm&count=100", m, m - 60))
  end
  return wrk.format("GET", "/reports/v1/bench/summary?bucket=day&from=-30d")
end
