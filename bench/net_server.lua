-- bench/net_server.lua: goro's side of bench/net.lua, the same as
-- bench/go/net/main.go. `echo`: echo every byte on each conn. `idle N`:
-- accept N conns, each G parked in read, then print "rss_per_conn
-- <bytes>". Prints "listening on <addr>" first.
local goro = require "goro"

local function rss()
  local f = io.open("/proc/self/statm")
  local _, res = f:read("n", "n")
  f:close()
  return res * 4096
end

goro.run(function()
  local l = assert(goro.net.listen("tcp", "127.0.0.1:0", {backlog = 4096}))
  print("listening on " .. l:addr())
  io.stdout:flush()
  if arg[1] == "idle" then
    local n = tonumber(arg[2])
    collectgarbage(); collectgarbage()
    local before = rss()
    for _ = 1, n do
      local c = assert(l:accept())
      goro.go(function() c:read(64); c:close() end)
    end
    goro.sleep(0.2)
    collectgarbage(); collectgarbage()
    print(("rss_per_conn %d"):format((rss() - before) // n))
    io.stdout:flush()
    goro.sleep(3600)
  end
  while true do
    local c = l:accept()
    if not c then return end
    goro.go(function()
      while true do
        local s = c:read(65536)
        if not s or not c:write(s) then break end
      end
      c:close()
    end)
  end
end)
