-- The examples run and do what they say (the README's demo among them).
local h = require "spec.helpers"

local function run_example(name)
  local p = io.popen(h.lua .. " examples/" .. name .. " 2>&1")
  local out = p:read("a")
  local ok, _, code = p:close()
  return ok, out, code
end

describe("examples/pipeline.lua (scripts/demo)", function()
  it("runs the pipeline to the end and accounts for every job", function()
    local ok, out = run_example("pipeline.lua")
    assert.is_true(ok, out)
    assert.matches("goro pipeline demo: 60 jobs, 4 workers", out)
    assert.matches("done in %d+ ms: 60 jobs produced, %d+ finished, %d+ timed out", out)
    assert.matches("after the run: 0 G's, 0 stacks in use", out)
  end)
end)

describe("examples/gameloop (scripts/demo)", function()
  it("runs 60 frames of job threads calling Lua with nested callbacks", function()
    local build = os.getenv("GORO_BUILDDIR") or "build"
    local p = io.popen(h.exe(build .. "/examples/gameloop") .. " . 2>&1")
    local out = p:read("a")
    local ok = p:close()
    assert.is_true(ok, out)
    assert.matches("frame 60: +240 callbacks", out)
    assert.matches("240 callbacks %(each with a nested Lua %-> C %-> Lua path query%), 0 failed, 1920 updates applied", out)
    assert.matches("every job thread was an extra M in C between frames: yes", out)
    assert.matches("loader G: 144 bytes read by read%(2%) through goro_cgocall, none on the frame thread: yes", out)
    assert.matches("render G %(goro.lockthread%): %d+ wakes, all on the frame thread: yes", out)
  end)
end)

-- examples/httpd.lua as a server in its own process; what it listens on
-- is its first line.
local function start_httpd()
  local log = os.tmpname()
  local pidfile = os.tmpname()
  os.execute(("sh -c '%s examples/httpd.lua 127.0.0.1:0 >%s 2>&1 & echo $! >%s'")
    :format(h.lua, log, pidfile))
  local pid = io.open(pidfile):read("n")
  os.remove(pidfile)
  local addr
  for _ = 1, 200 do  -- (up to 10 s for the line to appear)
    local f = io.open(log)
    addr = f and f:read("a"):match("listening on (%S+)")
    if f then f:close() end
    if addr then break end
    os.execute("sleep 0.05")
  end
  assert(addr, "the server printed its address")
  return addr, function()
    os.execute("kill " .. pid)
    local out = io.open(log):read("a")
    os.remove(log)
    return out
  end
end

local function command(cmd)
  local h = io.popen(cmd .. " 2>&1")
  local out = h:read("a")
  local ok = h:close()
  return ok, out
end

describe("examples/httpd.lua", function()
  it("serves its demo: a goro client, one kept-alive connection", function()
    local ok, out = run_example("httpd.lua --demo")
    assert.is_true(ok, out)
    assert.matches("GET /        %-> 200, 137 bytes", out)
    assert.matches('GET /stats   %-> 200, %d+ bytes: {"requests":2,', out)
    assert.matches("GET /nowhere %-> 404", out)
    assert.matches("served 4 requests on one kept%-alive connection", out)
  end)

  it("takes wrk's load with no socket error and no failed response", function()
    local addr, stop = start_httpd()
    local ok, out = command(("wrk -t1 -c32 -d2s http://%s/"):format(addr))
    local log = stop()
    assert.is_true(ok, out)
    local n = tonumber(out:match("(%d+) requests in"))
    assert.is_true(n ~= nil and n > 100, out)
    assert.is_nil(out:match("Socket errors"), out)
    assert.is_nil(out:match("Non%-2xx"), out)
    assert.is_nil(log:match("error"), log)
  end)

  it("answers LuaSocket's own HTTP client, from another process", function()
    local addr, stop = start_httpd()
    -- (the client is the build machine's lua5.4 and LuaSocket in every
    -- lane: only the server is goro's)
    local ok, out = command(("lua5.4 -e %q"):format(([[
      local http = require "socket.http"
      local body, code = http.request("http://ADDR/")
      local stats, code2 = http.request("http://ADDR/stats")
      print(code, #body, body:match("<h1>(.-)</h1>"), code2, stats)
    ]]):gsub("ADDR", addr)))
    stop()
    assert.is_true(ok, out)
    assert.matches('^200\t137\tHello from goro\t200\t{"requests":2,', out)
  end)
end)
