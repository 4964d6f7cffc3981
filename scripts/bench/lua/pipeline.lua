-- Pipelining (RFC 9112 §9.3.2): each write carries DEPTH requests back to back; wrk counts each
-- response. DEPTH is the first script argument (`wrk ... -- 16`).
local batch
function init(args)
  local depth = tonumber(args[1]) or 16
  local one = wrk.format("GET", wrk.path)
  batch = string.rep(one, depth)
end
function request()
  return batch
end
