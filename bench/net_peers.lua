-- bench/net_peers.lua: the Lua anchors of bench/net.lua, the same servers
-- as bench/net_server.lua (goro) and bench/go/net (Go) on the event
-- libraries Lua users pick today, all Debian packages:
--   cqueues   coroutines over epoll (lua-cqueues)
--   copas     coroutines over LuaSocket's select() (lua-copas, Lua 5.2's
--             share directory on LUA_PATH: Debian ships it up to 5.2; it
--             is plain Lua). select() stops at FD_SETSIZE (1,024 fds), so
--             copas cannot hold 10,000 idle connections.
--   luv       libuv's callbacks (lua-luv)
-- Usage: lua5.4 bench/net_peers.lua LIB MODE [N]
--   echo      echo every byte on each conn
--   idle N    accept N conns, each waiting in a read; print "rss_per_conn
--             <bytes>"
--   http      HTTP/1.1 keep-alive: answer every request with the page
--             examples/httpd.lua serves at "/", doing the same work per
--             request as it does (parse, route, build the response)
-- Prints "listening on <addr>" first.
local lib, mode, count = arg[1], arg[2], tonumber(arg[3])

local PAGE = [[<!doctype html>
<html><head><title>goro</title></head>
<body><h1>Hello from goro</h1><p>One goroutine per connection.</p></body>
</html>
]]

local function rss()
  local f = io.open("/proc/self/statm")
  local _, res = f:read("n", "n")
  f:close()
  return res * 4096
end

local function say(s)
  io.stdout:write(s, "\n")
  io.stdout:flush()
end

-- Count accepted idle conns; print the RSS grown per conn at the last.
local idle_before, idle_n = nil, 0
local function idle_begin()
  collectgarbage(); collectgarbage()
  idle_before = rss()
end
local function idle_accepted(settle)
  idle_n = idle_n + 1
  if idle_n == count then
    settle(function()
      collectgarbage(); collectgarbage()
      say(("rss_per_conn %d"):format((rss() - idle_before) // count))
    end)
  end
end

-- One request's work, as examples/httpd.lua does it: the request line
-- matched, the headers parsed into a table, keep-alive decided, the route
-- looked up and the response built. Returns the response, or nil when the
-- connection must close after it (never for wrk's requests).
local function handle(line, header_lines)
  local method, path, version = line:match("^(%u+) (%S+) HTTP/(%d%.%d)$")
  local headers = {}
  for _, h in ipairs(header_lines) do
    local k, v = h:match("^([^:]+):%s*(.*)$")
    if k then headers[k:lower()] = v end
  end
  local conn = (headers.connection or ""):lower()
  local keep = conn ~= "close" and (version == "1.1" or conn == "keep-alive")
  local ok = method and path:match("^[^?]*") == "/"
  return ok and keep and table.concat({
    "HTTP/1.1 ", 200, " ", "OK", "\r\n",
    "Content-Type: ", "text/html; charset=utf-8", "\r\n",
    "Content-Length: ", #PAGE, "\r\n", "\r\n", PAGE}) or nil
end

-- HTTP on a line reader: requests until EOF (wrk's GETs have no body).
local function http_loop(read_line, write)
  while true do
    local line = read_line()
    if not line then return end
    local hs = {}
    while true do
      local h = read_line()
      if not h then return end
      if h == "" then break end
      hs[#hs + 1] = h
    end
    local response = handle(line, hs)
    if not response or not write(response) then return end
  end
end

local servers = {}

function servers.cqueues()
  local cqueues = require "cqueues"
  local socket = require "cqueues.socket"
  local cq = cqueues.new()
  local l = socket.listen{host = "127.0.0.1", port = 0, backlog = 4096}
  l:listen()
  local _, host, port = l:localname()
  say(("listening on %s:%d"):format(host, port))
  if mode == "idle" then idle_begin() end
  cq:wrap(function()
    for c in l:clients() do
      c:setmode("b", "bn")  -- binary; writes unbuffered
      cq:wrap(function()
        if mode == "echo" then
          while true do
            local s = c:read(-65536)  -- (negative: whatever is there)
            if not s or not c:write(s) then break end
          end
        elseif mode == "http" then
          http_loop(function()  -- ("*l" keeps the CR of a CRLF)
                      local line = c:read("*l")
                      return line and line:gsub("\r$", "")
                    end,
                    function(s) return c:write(s) end)
        else
          idle_accepted(function(f) cq:wrap(function() cqueues.sleep(0.2); f() end) end)
          c:read(64)
        end
        c:close()
      end)
    end
  end)
  assert(cq:loop())
end

function servers.copas()
  package.path = package.path .. ";/usr/share/lua/5.2/?.lua"
  local copas = require "copas"
  local socket = require "socket"
  local l = assert(socket.bind("127.0.0.1", 0, 4096))
  local host, port = l:getsockname()
  say(("listening on %s:%d"):format(host, port))
  if mode == "idle" then idle_begin() end
  copas.addserver(l, function(raw)
    raw:setoption("tcp-nodelay", true)
    local c = copas.wrap(raw)
    if mode == "echo" then
      while true do
        local s, err, part = copas.receivePartial(raw, 65536)
        s = s or (part ~= "" and part)
        if not s or not c:send(s) then break end
      end
    elseif mode == "http" then
      http_loop(function() return c:receive("*l") end,
                function(s) return c:send(s) end)
    else
      idle_accepted(function(f) f() end)  -- (1.1.7 has no copas.sleep)
      c:receive(64)
    end
  end)
  copas.loop()
end

function servers.luv()
  local uv = require "luv"
  local l = uv.new_tcp()
  assert(l:bind("127.0.0.1", 0))
  local name = l:getsockname()
  say(("listening on %s:%d"):format(name.ip, name.port))
  if mode == "idle" then idle_begin() end
  assert(l:listen(4096, function(err)
    assert(not err, err)
    local c = uv.new_tcp()
    l:accept(c)
    c:nodelay(true)
    local buf = ""
    c:read_start(function(err, data)
      if err or not data then c:close() return end
      if mode == "echo" then
        c:write(data)
      elseif mode == "http" then  -- callbacks: cut the buffer into requests
        buf = buf .. data
        local out = {}
        while true do
          local e = buf:find("\r\n\r\n", 1, true)
          if not e then break end
          local lines = {}
          for l in buf:sub(1, e - 1):gmatch("[^\r\n]+") do lines[#lines + 1] = l end
          buf = buf:sub(e + 4)
          local line = table.remove(lines, 1)
          out[#out + 1] = handle(line, lines)
          if not out[#out] then c:close() return end
        end
        if #out > 0 then c:write(table.concat(out)) end
      else
        c:close()
      end
    end)
    if mode == "idle" then
      idle_accepted(function(f)
        local t = uv.new_timer()
        t:start(200, 0, function() t:close(); f() end)
      end)
    end
  end))
  uv.run()
end

assert(servers[lib], "usage: net_peers.lua cqueues|copas|luv echo|idle N|http")
servers[lib]()
