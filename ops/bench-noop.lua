-- wrk script: the no-op reference, GET /healthz (no auth, no store).
local req = wrk.format("GET", "/healthz")
request = function()
  return req
end
