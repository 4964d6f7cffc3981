-- A POST of SIZE bytes per request (first script argument, default 1 MiB) to the upload route,
-- with Content-Length framing; the body is built once, in wrk, never per request.
function init(args)
  local size = tonumber(args[1]) or 1048576
  wrk.method = "POST"
  wrk.body = string.rep("a", size)
  wrk.headers["Content-Type"] = "application/octet-stream"
end
