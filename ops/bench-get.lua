-- wrk script for ops/bench: one request per line of the file named by
-- SCIMLOG_BENCH_KEYS, by SCIMLOG_BENCH_MODE:
--   id      GET {base}/Users/{line}
--   filter  GET {base}/Users?filter=userName eq "{line}"
--   list    GET {base}/Users?startIndex={line}&count=100
--   search  POST {base}/Users/.search {"filter":"userName eq \"{line}\""}
--   path    GET {line} (a full path, e.g. a reports asOf query)
-- Requests are formatted once at start-up and replayed round-robin from a
-- random offset, so wrk's own per-request Lua work (which shares the cores
-- with the server) stays small.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SCIMLOG_TOKEN")
local mode, base = os.getenv("SCIMLOG_BENCH_MODE"), os.getenv("SCIMLOG_BENCH_BASE")
local reqs = {}
for line in io.lines(os.getenv("SCIMLOG_BENCH_KEYS")) do
  if mode == "filter" then
    reqs[#reqs + 1] = wrk.format("GET", base .. "/Users?filter=userName+eq+%22" .. line .. "%22")
  elseif mode == "list" then
    reqs[#reqs + 1] = wrk.format("GET", base .. "/Users?startIndex=" .. line .. "&count=100")
  elseif mode == "search" then
    reqs[#reqs + 1] = wrk.format("POST", base .. "/Users/.search",
      {["Content-Type"] = "application/scim+json",
       ["Authorization"] = wrk.headers["Authorization"]},
      '{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],' ..
      '"filter":"userName eq \\"' .. line .. '\\""}')
  elseif mode == "path" then
    reqs[#reqs + 1] = wrk.format("GET", line)
  else
    reqs[#reqs + 1] = wrk.format("GET", base .. "/Users/" .. line)
  end
end
local i = 0
function init(args)
  i = math.random(0, #reqs - 1)
end
request = function()
  i = i % #reqs + 1
  return reqs[i]
end
