-- goro.profile: a CPU profile of a run, in folded or pprof form.
local goro = require "goro"
local tm = require "goro_testmod"
local h = require "spec.helpers"

-- TSan delivers an asynchronous signal at its next interceptor, and Lua
-- code that burns CPU (lua5.4 is not instrumented) calls none: SIGPROF
-- samples no Lua stack there. C code does (clock_gettime), so the specs
-- that sample C called through goro_cgocall run.
local it_sampling_lua = h.unless_tsan(it, pending,
  "SIGPROF waits for an interceptor that Lua burning CPU never calls")

local tmpdir = os.getenv("TMPDIR") or "/tmp"
local function tmp(name)
  return ("%s/goro-spec-%s-%s"):format(tmpdir, tostring(os.time()), name)
end

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- The folded profile at path as {stack = count}.
local function folded(path)
  local t, total = {}, 0
  for line in io.lines(path) do
    local stack, n = line:match("^(.+) (%d+)$")
    assert(stack, "a folded line: " .. line)
    t[stack] = (t[stack] or 0) + tonumber(n)
    total = total + tonumber(n)
  end
  return t, total
end

-- Samples whose stack has a frame starting with `name`.
local function count_frame(t, name)
  local n = 0
  for stack, c in pairs(t) do
    if (";" .. stack):find(";" .. name, 1, true) then n = n + c end
  end
  return n
end

-- Samples whose stack has frame `callee` right under frame `caller`.
local function count_edge(t, caller, callee)
  local n = 0
  for stack, c in pairs(t) do
    local prev
    for frame in (stack .. ";"):gmatch("(.-);") do
      if prev and prev:find(caller, 1, true) == 1 and frame:find(callee, 1, true) == 1 then
        n = n + c
        break
      end
      prev = frame
    end
  end
  return n
end

-- A global: profiles name it "burn". It burns s seconds of CPU (os.clock:
-- the other threads idle meanwhile), however loaded the machine is.
function burn(s)
  local e, x = os.clock() + s, 0
  while os.clock() < e do for i = 1, 100 do x = x + i end end
  return x
end

describe("goro.profile", function()
  it_sampling_lua("writes a folded profile with Lua frames named as tracebacks name them", function()
    local path = tmp("a.folded")
    local gid
    goro.run(function()
      goro.profile.start { hz = 250, path = path }
      local function outer() burn(0.3) end
      local g = goro.go(function() outer() end)
      gid = g.id
      g:wait()
      table.sort({ 3, 1, 2, 5, 4, 9, 7 }, function(a, b) burn(0.01) return a < b end)
      assert.equal(path, goro.profile.stop())
    end)
    local t, total = folded(path)
    assert.is_true(total > 20, "samples: " .. total)
    assert.is_true(count_edge(t, "outer (", "burn (") > 10, "outer -> burn")
    assert.is_true(count_edge(t, "[C] table.sort", "anonymous (") > 0,
                   "the comparator under table.sort")
    for stack in pairs(t) do
      assert.matches("^[^;]", stack)
      assert.not_matches(";;", stack)
    end
    local s = goro.profile.summary()
    assert.is_false(s.on)
    assert.equal(250, s.hz)
    assert.is_true(s.seconds > 0.3)
    assert.is_true(s.by_g[gid] > 20, "CPU per G: " .. tostring(s.by_g[gid]))
    assert.equal(0, s.timers)
    os.remove(path)
  end)

  it("samples C called through goro_cgocall under the Lua stack that called it", function()
    local path = tmp("cgo.folded")
    goro.run(function()
      goro.profile.start { path = path, hz = 200 }
      tm.cgo_spin(0.3)
      goro.profile.stop()
    end)
    local t = folded(path)
    assert.is_true(count_edge(t, "[C] goro_testmod.cgo_spin", "[C] goro_testmod_spin") > 10,
                   "the C leaf under the C function Lua called")
    os.remove(path)
  end)

  it("spreads the samples of one stay in C over the functions it ran", function()
    -- One cgocall that alternates two C functions: both show up as leaves,
    -- each with a fair share (a profile that kept one PC per stay would
    -- put all 60 samples under one of them).
    local path = tmp("cgo2.folded")
    goro.run(function()
      goro.profile.start { path = path, hz = 200 }
      tm.cgo_spin_two(0.3)
      goro.profile.stop()
    end)
    local t = folded(path)
    local b = count_edge(t, "[C] goro_testmod.cgo_spin_two", "[C] goro_testmod_spin_b")
    local a = count_edge(t, "[C] goro_testmod.cgo_spin_two", "[C] goro_testmod_spin") - b
    assert.is_true(a >= 5 and b >= 5, ("leaves: spin %d, spin_b %d"):format(a, b))
    os.remove(path)
  end)

  it_sampling_lua("writes pprof that go tool pprof reads", function()
    local path = tmp("b.pprof")
    goro.run(function()
      goro.profile.start { path = path, hz = 250, format = "pprof" }
      burn(0.3)
      goro.profile.stop()
    end)
    local data = slurp(path)
    assert.equal("\31\139", data:sub(1, 2), "gzip")
    local go = io.popen("command -v go || ls /usr/lib/go-*/bin/go 2>/dev/null | tail -1"):read("l")
    assert.is_not_nil(go, "go tool pprof is needed (scripts/deps installs golang-go)")
    local h = io.popen(("%s tool pprof -top %s 2>&1"):format(go, path))
    local out = h:read("a")
    assert.is_true(h:close(), out)
    assert.matches("Type: cpu", out)
    assert.matches("flat%%", out)
    assert.matches("burn", out)
    os.remove(path)
  end)

  it("rejects bad arguments and wrong states with clear errors", function()
    local function err(f, ...)
      local ok, e = pcall(f, ...)
      assert.is_false(ok)
      return tostring(e)
    end
    assert.matches("no profile is running", err(goro.profile.stop))
    assert.matches("bad argument #1", err(goro.profile.start, 5))
    assert.matches("hz must be in 1..1000", err(goro.profile.start, { hz = 0 }))
    assert.matches("hz must be in 1..1000", err(goro.profile.start, { hz = 5000 }))
    assert.matches("hz must be an integer", err(goro.profile.start, { hz = 1.5 }))
    assert.matches("unknown format 'svg'", err(goro.profile.start, { format = "svg" }))
    assert.matches("path must be a string", err(goro.profile.start, { path = 1 }))
    assert.matches("empty path", err(goro.profile.start, { path = "" }))
    local path = tmp("c.folded")
    goro.profile.start { path = path }
    assert.matches("already running", err(goro.profile.start, { path = path }))
    goro.profile.stop()
    goro.profile.start { path = "/nonexistent-dir/p.folded" }
    assert.matches("cannot write '/nonexistent%-dir/p.folded': No such file or directory", err(goro.profile.stop))
    os.remove(path)
  end)
end)

describe("GORO_CPUPROFILE", function()
  local function sh(cmd)
    local h = io.popen(cmd .. " 2>&1")
    local out = h:read("a")
    return h:close(), out
  end

  it_sampling_lua("profiles a whole script without code changes", function()
    local path = tmp("env.folded")
    local ok, out = sh(("GORO_CPUPROFILE=%s %s -e %q"):format(path, h.lua,
      "local goro = require 'goro' " ..
      "function spin() local e = os.clock() + 0.3 while os.clock() < e do end end " ..
      "goro.run(function() spin() end)"))
    assert.is_true(ok, out)
    local n = count_frame(folded(path), "spin (")
    assert.is_true(n > 10, "spin was sampled: " .. n)
    os.remove(path)
  end)

  it_sampling_lua("profiles a busted run that uses goro.busted", function()
    local path = tmp("busted.folded")
    local ok, out = sh(("GORO_CPUPROFILE=%s %s /usr/bin/busted -p profiled spec/fixtures"):format(path, h.lua))
    assert.is_true(ok, out)
    local n = count_frame(folded(path), "hot_in_a_spec (")
    assert.is_true(n > 10, "the spec's hot function was sampled: " .. n)
    os.remove(path)
  end)
end)
