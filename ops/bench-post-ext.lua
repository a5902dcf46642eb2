-- wrk script: durable POST /Users carrying an extension block of 20
-- attributes (issue 8's benchmark: a tenant schema of 20 extension
-- attributes, one of them checked against a 1,000-value catalog). The
-- same body goes to a tenant with that definition and to one without it.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/scim+json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SCIMLOG_TOKEN")
local ext = "urn:ietf:params:scim:schemas:extension:bench:2.0:User"
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("prefix", string.format("%d-%d-%d", os.time(), math.random(1, 1e6), threads))
end
local n = 0
request = function()
  n = n + 1
  local name = prefix .. "-" .. n .. "@bench.example"
  local attrs = {}
  for i = 1, 19 do
    attrs[#attrs + 1] = string.format('"attr%d":"value %d of %s"', i, i, name)
  end
  attrs[#attrs + 1] = string.format('"role":"role-%d"', n % 1000)
  return wrk.format(nil, nil, nil,
    '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","' .. ext ..
    '"],"userName":"' .. name .. '","active":true,"emails":[{"type":"work","value":"' ..
    name .. '"}],"' .. ext .. '":{' .. table.concat(attrs, ",") .. '}}')
end
