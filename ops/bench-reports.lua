-- wrk script for ops/bench-reports: reports queries over the 1M-record
-- data set. SCIMLOG_BENCH_MODE = history (one user's history), range (a
-- random 1-hour window in the last 30 days, page of 100), summary,
-- asof_group (a random group with its members as of a random time in the
-- last 30 days: "who was a member of group X on date T"), asof_group_big
-- (the same for group 0, thousands of members) or asof_list (the users
-- with title "title 42" as of a random time, page of 100).
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SCIMLOG_TOKEN")
local mode = os.getenv("SCIMLOG_BENCH_MODE")
local users = tonumber(os.getenv("SCIMLOG_BENCH_USERS"))
local groups = math.max(1, math.floor(users / 100))
request = function()
  if mode == "history" then
    return wrk.format("GET", string.format(
      "/reports/v1/bench/resources/user-%08d/history", math.random(0, users - 1)))
  elseif mode == "range" then
    local m = math.random(60, 43200)
    return wrk.format("GET", string.format(
      "/reports/v1/bench/changes?from=-%dm&to=-%dm&count=100", m, m - 60))
  elseif mode == "asof_group" or mode == "asof_group_big" then
    local g = mode == "asof_group" and math.random(0, groups - 1) or 0
    return wrk.format("GET", string.format(
      "/reports/v1/bench/Groups/group-%05d?asOf=-%dm", g, math.random(1, 43000)))
  elseif mode == "asof_list" then
    return wrk.format("GET", string.format(
      "/reports/v1/bench/Users?asOf=-%dm&count=100&filter=title%%20eq%%20%%22title%%2042%%22",
      math.random(1, 43000)))
  end
  return wrk.format("GET", "/reports/v1/bench/summary?bucket=day&from=-30d")
end
