-- examples/httpd.lua — a small HTTP/1.1 server on goro.net: one G per
-- connection, keep-alive, a static page and a JSON endpoint.
--
--   lua5.4 examples/httpd.lua [host:port]      serve until killed
--   lua5.4 examples/httpd.lua --demo           serve, fetch a few pages
--                                              with a goro client, stop
--
-- It prints "listening on <address>" first (":0" picks a free port), so
-- that a test or a load generator can find it.
local goro = require "goro"

local PAGE = [[<!doctype html>
<html><head><title>goro</title></head>
<body><h1>Hello from goro</h1><p>One goroutine per connection.</p></body>
</html>
]]

local requests = 0

-- The JSON endpoint: what the server has done, as JSON.
local function stats_json()
  local s = goro.stats()
  return string.format('{"requests":%d,"goroutines":%d,"io_fds":%d}',
    requests, s.gs, s.io_fds)
end

local routes = {
  ["/"] = function() return 200, "text/html; charset=utf-8", PAGE end,
  ["/stats"] = function() return 200, "application/json", stats_json() end,
}

local function respond(c, status, ctype, body, keep)
  local reason = ({[200] = "OK", [400] = "Bad Request", [404] = "Not Found"})[status]
  return c:write(table.concat({
    "HTTP/1.1 ", status, " ", reason, "\r\n",
    "Content-Type: ", ctype, "\r\n",
    "Content-Length: ", #body, "\r\n",
    keep and "" or "Connection: close\r\n",
    "\r\n", body}))
end

-- One connection: requests until the client closes or says so.
local function serve_conn(c)
  while true do
    local line = c:read_line()
    if not line then break end
    local method, path, version = line:match("^(%u+) (%S+) HTTP/(%d%.%d)$")
    local headers = {}
    while true do
      local h = c:read_line()
      if not h or h == "" then break end
      local k, v = h:match("^([^:]+):%s*(.*)$")
      if k then headers[k:lower()] = v end
    end
    if not method then
      respond(c, 400, "text/plain", "bad request\n", false)
      break
    end
    local n = tonumber(headers["content-length"] or 0)
    if n and n > 0 and not c:read_exact(n) then break end
    local conn = (headers.connection or ""):lower()
    local keep = conn ~= "close" and (version == "1.1" or conn == "keep-alive")
    requests = requests + 1
    local route = routes[path:match("^[^?]*")]
    local ok
    if route then
      local status, ctype, body = route()
      ok = respond(c, status, ctype, body, keep)
    else
      ok = respond(c, 404, "text/plain", "not found\n", keep)
    end
    if not ok or not keep then break end
  end
  c:close()
end

local function serve(l)
  while true do
    local c = l:accept()
    if not c then return end  -- closed
    goro.go(serve_conn, c)
  end
end

-- A tiny client: GET path over one kept-alive connection.
local function get(c, path)
  assert(c:write("GET " .. path .. " HTTP/1.1\r\nHost: goro\r\n\r\n"))
  local status = tonumber(assert(c:read_line()):match("^HTTP/1%.1 (%d+)"))
  local len
  while true do
    local h = assert(c:read_line())
    if h == "" then break end
    len = len or tonumber(h:match("^[Cc]ontent%-[Ll]ength:%s*(%d+)"))
  end
  return status, assert(c:read_exact(len))
end

local addr = arg[1] ~= "--demo" and arg[1] or "127.0.0.1:0"
goro.run(function()
  local l = assert(goro.net.listen("tcp", addr))
  print("listening on " .. l:addr())
  io.stdout:flush()
  if arg[1] ~= "--demo" then return serve(l) end
  goro.go(serve, l)
  local c = assert(goro.net.dial("tcp", l:addr()))
  for _, path in ipairs({"/", "/stats", "/nowhere", "/stats"}) do
    local status, body = get(c, path)
    print(string.format("GET %-8s -> %d, %d bytes%s", path, status, #body,
      path == "/stats" and ": " .. body or ""))
  end
  c:close()
  l:close()
  print(string.format("served %d requests on one kept-alive connection", requests))
end)
