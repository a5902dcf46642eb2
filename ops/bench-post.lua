-- wrk script: durable POST /Users with a unique userName per request.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/scim+json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SCIMLOG_TOKEN")
local n, prefix = 0, ""
function setup(thread)
  thread:set("prefix", string.format("%x%x", os.time(), math.random(1, 1e9)))
end
function init(args) prefix = prefix or "p" end
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil,
    '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' ..
    prefix .. "-" .. n .. '@bench.example","active":true,"emails":[{"type":"work","value":"' ..
    prefix .. "-" .. n .. '@bench.example"}]}')
end
