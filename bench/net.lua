-- bench/net.lua: goro.net's servers beside Go's net (GOMAXPROCS=1, as a
-- goro universe has one P), driven by the same goro client over 127.0.0.1.
-- For each figure: the wall time per operation (client and server share
-- the machine's cores) and the server process's CPU time per operation
-- (user + system, from /proc), which the client's noise does not blur.
--   echo1     a 64-byte round trip on one connection
--   echo100   64-byte round trips on 100 connections at once
--   dial      dial + accept + close
--   idle      bytes of server memory per idle connection (10,000 parked
--             in a read; the RSS grown, kernel buffers aside)
-- Usage: lua5.4 bench/net.lua [N]   (10,000 idle conns need 10,000+ fds in
-- each process: scripts/bench raises the soft limit to the hard one)
local goro = require "goro"
local N = tonumber(arg[1]) or 20000
local IDLE = 10000
local srcdir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local lua = arg[-1] or "lua5.4"

local function cpu_ticks(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if not f then return 0 end
  local s = f:read("a")
  f:close()
  local rest = s:match("%) (.*)$")
  local fields = {}
  for w in rest:gmatch("%S+") do fields[#fields + 1] = w end
  return tonumber(fields[12]) + tonumber(fields[13])  -- utime, stime
end
local TICK = 1 / 100  -- (sysconf(_SC_CLK_TCK) on Linux)

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
  local c0, t0 = cpu_ticks(pid), goro.now()
  f()
  local t1, c1 = goro.now(), cpu_ticks(pid)
  return (t1 - t0) * 1e9 / n, (c1 - c0) * TICK * 1e9 / n
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

-- One server implementation, every figure.
local function run_impl(cmd, idlecmd)
  local r = {}
  local addr, pid, _, stop = start(cmd)
  r.echo1, r.echo1_cpu = measure(pid, N, function() echo(addr, 1, N) end)
  r.echo100, r.echo100_cpu = measure(pid, N, function() echo(addr, 100, N) end)
  r.dial, r.dial_cpu = measure(pid, N // 10, function() dials(addr, N // 10) end)
  stop()
  addr, pid, out, stop = start(idlecmd)
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

local cpu = io.popen("sed -n 's/^model name\\s*: //p' /proc/cpuinfo | head -1"):read("l")
print(("goro.net benchmarks, N = %d, over 127.0.0.1 (%s)"):format(N, cpu or "?"))
goro.run(function()
  local g = run_impl(lua .. " " .. srcdir .. "/net_server.lua echo",
                     lua .. " " .. srcdir .. "/net_server.lua idle " .. IDLE)
  local o = goexe and run_impl(goexe .. " echo", goexe .. " idle " .. IDLE) or {}
  local function row(name, k, unit)
    local a, b = g[k], o[k]
    print(("%-34s %12.1f %12s %9s"):format(name .. " (" .. unit .. ")", a,
      b and ("%.1f"):format(b) or "-", b and ("%.2fx"):format(a / b) or "-"))
  end
  print(("%-34s %12s %12s %9s"):format("", "goro", "Go", "goro/Go"))
  row("echo, 1 conn, wall", "echo1", "ns/rt")
  row("echo, 1 conn, server CPU", "echo1_cpu", "ns/rt")
  row("echo, 100 conns, wall", "echo100", "ns/rt")
  row("echo, 100 conns, server CPU", "echo100_cpu", "ns/rt")
  row("dial+accept+close, wall", "dial", "ns")
  row("dial+accept+close, server CPU", "dial_cpu", "ns")
  row("memory per idle conn", "idle", "bytes")
end)
