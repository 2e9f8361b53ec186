-- bench/net.lua: goro.net's servers beside Go's net (GOMAXPROCS=1, as a
-- goro universe has one P) and the Lua event libraries (bench/net_peers.lua:
-- cqueues, copas, luv), driven by the same goro client over 127.0.0.1.
-- For each figure: the wall time per operation (client and server share
-- the machine's cores) and the server process's CPU time per operation
-- (from /proc's per-thread scheduler clocks), which the client's noise does not blur.
--   echo1     a 64-byte round trip on one connection
--   echo100   64-byte round trips on 100 connections at once
--   dial      dial + accept + close
--   idle      bytes of server memory per idle connection (10,000 parked
--             in a read; the RSS grown, kernel buffers aside)
--   http      HTTP/1.1 keep-alive GETs of one page under `wrk -t1 -c100`:
--             examples/httpd.lua against Go's net/http hello world and
--             the peers' loops
-- A missing column is a library not installed (scripts/bench installs
-- them), or copas's idle figure: select() stops at 1,024 fds.
-- Each figure is the best of ROUNDS rounds that run every library in turn.
-- Usage: lua5.4 bench/net.lua [N [SECONDS of wrk [ROUNDS]]]   (10,000 idle conns need 10,000+ fds in
-- each process: scripts/bench raises the soft limit to the hard one)
local goro = require "goro"
local N = tonumber(arg[1]) or 20000
local IDLE = 10000
local WRK_SECONDS = tonumber(arg[2]) or 3
local ROUNDS = tonumber(arg[3]) or 3
local have_wrk = os.execute("command -v wrk >/dev/null") == true
local srcdir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local lua = arg[-1] or "lua5.4"

-- The CPU time of a process so far, in ns: the sum over its threads of
-- /proc's scheduler clock (nanoseconds, where /proc/PID/stat counts 10 ms
-- ticks). Every server here keeps its threads for its whole life.
local function cpu_ns(pid)
  local total = 0
  for tid in io.popen("ls /proc/" .. pid .. "/task 2>/dev/null"):lines() do
    local f = io.open("/proc/" .. pid .. "/task/" .. tid .. "/schedstat")
    if f then
      total = total + (f:read("n") or 0)
      f:close()
    end
  end
  return total
end

-- Start a server; its address, pid and a way to read its output.
local function start(cmd)
  local log, pidf = os.tmpname(), os.tmpname()
  os.execute(("sh -c 'exec %s >%s 2>&1' & echo $! >%s"):format(cmd, log, pidf))
  local pid = io.open(pidf):read("n")
  os.remove(pidf)
  local function out()
    local f = io.open(log)
    local s = f and f:read("a") or ""
    if f then f:close() end
    return s
  end
  local addr
  for _ = 1, 400 do
    addr = out():match("listening on (%S+)")
    if addr then break end
    goro.sleep(0.025)
  end
  assert(addr, "the server did not start: " .. out())
  return addr, pid, out, function()
    os.execute("kill " .. pid)
    os.remove(log)
  end
end

local function measure(pid, n, f)
  local c0, t0 = cpu_ns(pid), goro.now()
  f()
  local t1, c1 = goro.now(), cpu_ns(pid)
  return (t1 - t0) * 1e9 / n, (c1 - c0) / n
end

local MSG = string.rep("x", 64)

local function echo(addr, conns, n)
  local wg = goro.waitgroup()
  for _ = 1, conns do
    wg:add(1)
    goro.go(function()
      local c = assert(goro.net.dial("tcp", addr))
      for _ = 1, n // conns do
        assert(c:write(MSG))
        assert(c:read_exact(64))
      end
      c:close()
      wg:done()
    end)
  end
  wg:wait()
end

local function dials(addr, n)
  for _ = 1, n do assert(goro.net.dial("tcp", addr)):close() end
end

local function idle(addr, n)
  local conns = {}
  for i = 1, n do conns[i] = assert(goro.net.dial("tcp", addr)) end
  return conns
end

local function http(addr, pid)
  local c0 = cpu_ns(pid)
  local f = io.popen(("wrk -t1 -c100 -d%ds http://%s/ 2>&1"):format(WRK_SECONDS, addr))
  local out = f:read("a")
  f:close()
  local c1 = cpu_ns(pid)
  local rps = tonumber(out:match("Requests/sec:%s*([%d.]+)"))
  local total = tonumber(out:match("(%d+) requests in"))
  local bad = out:match("Non%-2xx") or out:match("Socket errors")
  if not rps or bad then
    io.stderr:write("wrk against ", addr, ":\n", out)
    return nil
  end
  return 1e9 / rps, (c1 - c0) / total
end

-- One server implementation, every figure (cmd(mode, n) is its command).
local function run_impl(cmd, opts)
  local r = {}
  local addr, pid, out, stop = start(cmd("echo"))
  r.echo1, r.echo1_cpu = measure(pid, N, function() echo(addr, 1, N) end)
  r.echo100, r.echo100_cpu = measure(pid, N, function() echo(addr, 100, N) end)
  r.dial, r.dial_cpu = measure(pid, N // 10, function() dials(addr, N // 10) end)
  stop()
  if have_wrk then
    addr, pid, out, stop = start(cmd("http"))
    r.http, r.http_cpu = http(addr, pid)
    stop()
  end
  if opts and opts.no_idle then return r end
  addr, pid, out, stop = start(cmd("idle", IDLE))
  local conns = idle(addr, IDLE)
  for _ = 1, 400 do
    r.idle = tonumber(out():match("rss_per_conn (%d+)"))
    if r.idle then break end
    goro.sleep(0.05)
  end
  for _, c in ipairs(conns) do c:close() end
  stop()
  return r
end

-- Go: built once.
local gobin = os.getenv("GO")
if not gobin then
  for _, p in ipairs({"/usr/lib/go-1.23/bin/go", "go"}) do
    if os.execute(p .. " version >/dev/null 2>&1") then gobin = p; break end
  end
end
local goexe
if gobin then
  local tmp = os.getenv("TMPDIR") or "/tmp"
  goexe = tmp .. "/goro-bench-net"
  if not os.execute(("cd %s/go/net && GOCACHE=%s/goro-gocache %s build -o %s . 2>&1")
      :format(srcdir, tmp, gobin, goexe)) then goexe = nil end
end


-- The peers present on this machine.
local function has(lib)
  local probe = lib == "copas" and "package.path = package.path .. ';/usr/share/lua/5.2/?.lua'; " or ""
  return os.execute(("%s -e \"%srequire '%s'\" 2>/dev/null"):format(lua, probe, lib)) == true
end

local cpu = dofile(srcdir .. "/cpu.lua")
print(("goro.net benchmarks, N = %d, best of %d rounds, over 127.0.0.1 (%s)")
  :format(N, ROUNDS, cpu or "?"))
goro.run(function()
  -- Who runs, and how each starts its servers.
  local cols, cmds, res = {"goro"}, {}, {}
  cmds.goro = function(mode, n)
    if mode == "http" then return lua .. " " .. srcdir .. "/../examples/httpd.lua 127.0.0.1:0" end
    return ("%s %s/net_server.lua %s %s"):format(lua, srcdir, mode, n or "")
  end
  if goexe then
    cols[#cols + 1] = "Go"
    cmds.Go = function(mode, n) return ("%s %s %s"):format(goexe, mode, n or "") end
  end
  for _, lib in ipairs({"cqueues", "copas", "luv"}) do
    if has(lib) then
      cols[#cols + 1] = lib
      cmds[lib] = function(mode, n)
        return ("%s %s/net_peers.lua %s %s %s"):format(lua, srcdir, lib, mode, n or "")
      end
    end
  end
  -- ROUNDS rounds, each running every library once, in an order rotated
  -- a round, and the best figure of each kept: the VM's slow spells then
  -- fall on every library alike. Memory is measured in the first round.
  for round = 1, ROUNDS do
    for i = 0, #cols - 1 do
      local c = cols[(i + round - 1) % #cols + 1]
      local r = run_impl(cmds[c], {no_idle = c == "copas" or round > 1})
      res[c] = res[c] or {}
      for k, v in pairs(r) do
        if res[c][k] == nil or v < res[c][k] then res[c][k] = v end
      end
    end
  end
  local head = ("%-32s"):format("")
  for _, c in ipairs(cols) do head = head .. ("%10s"):format(c) end
  print(head .. ("%9s %11s"):format("goro/Go", "goro/best"))
  local function row(name, k, unit)
    local line = ("%-32s"):format(name .. " (" .. unit .. ")")
    local best
    for _, c in ipairs(cols) do
      local v = res[c][k]
      line = line .. (v and ("%10.0f"):format(v) or ("%10s"):format("-"))
      if c ~= "goro" and c ~= "Go" and v and (not best or v < best) then best = v end
    end
    local g, o = res.goro[k], res.Go and res.Go[k]
    line = line .. ((g and o) and ("%8.2fx"):format(g / o) or ("%9s"):format("-"))
    line = line .. ((g and best) and ("%10.2fx"):format(g / best) or ("%11s"):format("-"))
    print(line)
  end
  row("echo, 1 conn, wall", "echo1", "ns/rt")
  row("echo, 1 conn, server CPU", "echo1_cpu", "ns/rt")
  row("echo, 100 conns, wall", "echo100", "ns/rt")
  row("echo, 100 conns, server CPU", "echo100_cpu", "ns/rt")
  row("dial+accept+close, wall", "dial", "ns")
  row("dial+accept+close, server CPU", "dial_cpu", "ns")
  row("http, wrk -c100, wall", "http", "ns/req")
  row("http, wrk -c100, server CPU", "http_cpu", "ns/req")
  row("memory per idle conn", "idle", "bytes")
  print("(lower is better everywhere; goro/best: against the best Lua peer)")
end)
