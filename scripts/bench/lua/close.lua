-- New connection per request: `Connection: close` makes the server close after each response
-- and wrk reconnect (RFC 9112 §9.6). delay() holds each connection DELAY_MS (first script
-- argument) before its next request, so the offered load is about connections * 1000 / DELAY_MS
-- per second instead of as fast as possible: a fixed rate whose cost shows in CPU and latency.
local delay_ms
function init(args)
  delay_ms = tonumber(args[1]) or 10
  wrk.headers["Connection"] = "close"
end
function delay()
  return delay_ms
end
