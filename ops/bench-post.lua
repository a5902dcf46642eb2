-- wrk script: durable POST /Users with a unique userName per request.
-- Each wrk thread gets its own prefix (set by setup() in the main state).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/scim+json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SCIMLOG_TOKEN")
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("prefix", string.format("%d-%d-%d", os.time(), math.random(1, 1e6), threads))
end
local n = 0
request = function()
  n = n + 1
  local name = prefix .. "-" .. n .. "@bench.example"
  return wrk.format(nil, nil, nil,
    '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' ..
    name .. '","active":true,"emails":[{"type":"work","value":"' .. name .. '"}]}')
end
