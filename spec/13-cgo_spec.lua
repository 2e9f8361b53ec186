-- Lua -> C -> Lua from scripts: goro_cgocall lends the P while C runs;
-- goro_call from that C is a callback nested in the same G.
local h = require "spec.helpers"
local goro = h.goro
local tm = require "goro_testmod"

describe("goro_cgocall (C that blocks)", function()
  it("shows the G in C as \"syscall\"", function()
    local st = goro.run(function()
      -- g stays in C, but for a moment between naps, until we have looked
      -- (a single 50 ms nap once ended before a 10 ms sleep did, under TSan).
      local looked = false
      local g = goro.go(function() repeat tm.cgo_sleep(0.005) until looked end)
      local st
      for _ = 1, 1000 do
        goro.sleep(0.001)
        st = g:status()
        if st == "syscall" then break end
      end
      looked = true
      g:wait()
      return st
    end)
    assert.are.equal("syscall", st)
  end)

  it("lets other G's run while one G is in C", function()
    local ticks, inside = goro.run(function()
      local ticks, done, inside = 0, false, nil
      goro.go(function()
        while not done do ticks = ticks + 1; goro.yield() end
      end)
      goro.go(function() goro.sleep(0.01); inside = goro.stats().ms end)
      tm.cgo_sleep(0.1)  -- the P is taken from this M while it sleeps in C
      done = true
      return ticks, inside
    end)
    assert.is_true(ticks > 10, "other G's ran " .. ticks .. " times meanwhile")
    assert.is_true(inside >= 2, "a worker M took the P")
  end)

  it("ends the run when the main G finishes on a worker M", function()
    for _ = 1, 5 do
      local v = goro.run(function()
        local ch = goro.chan()
        goro.go(function() tm.cgo_sleep(0.05) end)  -- M0 goes into C ...
        goro.go(function() goro.sleep(0.01); ch:send("done") end)
        return ch:recv()  -- ... so a worker runs this G to its end
      end)
      assert.are.equal("done", v)
    end
  end)

  it("counts itself in the M's ncgo only while C runs", function()
    local m_before, m_in, m_after = goro.run(function()
      local before = goro.m()
      local inside = tm.cgo_callback(function() return goro.m() end)
      return before, inside, goro.m()
    end)
    assert.are.same({0, 0}, {m_before.ncgo, m_before.ncallback})
    assert.are.same({1, 1}, {m_in.ncgo, m_in.ncallback})
    assert.are.same({0, 0}, {m_after.ncgo, m_after.ncallback})
    assert.is_false(m_in.extra)
    assert.is_false(m_in.is_extra_in_c)
  end)
end)

describe("a __gc finalizer that is in C", function()
  it("holds up no other G's park; its own G still may not park", function()
    local got, own = goro.run(function()
      local ch, own = goro.chan(), nil
      local g1 = goro.go(function()
        setmetatable({}, {__gc = function()
          tm.cgo_sleep(0.2)  -- the universe's collector stays stopped meanwhile
          own = select(2, pcall(goro.sleep, 0.01))
        end})
        collectgarbage()
        collectgarbage()
      end)
      local g2 = goro.go(function()
        local seen
        table.sort({3, 1, 2}, function(a, b)  -- a stackful park, under a C call
          seen = seen or ch:recv()
          return a < b
        end)
        return seen
      end)
      goro.sleep(0.05)  -- g1 is in C inside its finalizer, g2 parked
      ch:send("sorted")
      local _, v = g2:wait()
      g1:wait()
      return v, own
    end)
    assert.are.equal("sorted", got)
    assert.matches("goro: sleep would block inside a __gc finalizer", own)
  end)
end)

describe("goro_call nested in goro_cgocall", function()
  it("runs on the same G and returns its results", function()
    local same, a, b = goro.run(function()
      local me = goro.self()
      local other, x, y = tm.cgo_callback(function(p, q)
        return goro.self(), p + q, "two"
      end, 40, 2)
      return other == me, x, y
    end)
    assert.is_true(same)
    assert.are.equal(42, a)
    assert.are.equal("two", b)
  end)

  it("can block: the G parks with its M and wakes on the same thread", function()
    local got, m1, m2 = goro.run(function()
      local ch = goro.chan()
      goro.go(function() goro.sleep(0.01); ch:send("hello") end)
      return tm.cgo_callback(function()
        local id = goro.m().id
        local v = ch:recv()
        return v, id, goro.m().id
      end)
    end)
    assert.are.equal("hello", got)
    assert.are.equal(m1, m2)
  end)

  it("nests: Lua -> C -> Lua -> C -> Lua, counters exact at every level", function()
    local levels = goro.run(function()
      local levels = {}
      local function dive(n)
        local m = goro.m()
        levels[#levels + 1] = {m.ncgo, m.ncallback}
        if n > 0 then tm.cgo_callback(dive, n - 1) end
        m = goro.m()
        levels[#levels + 1] = {m.ncgo, m.ncallback}
      end
      dive(3)
      return levels
    end)
    assert.are.same({{0, 0}, {1, 1}, {2, 2}, {3, 3}, {3, 3}, {2, 2}, {1, 1}, {0, 0}}, levels)
  end)

  it("turns an error in the callback into an error after cgocall, counters exact", function()
    local n = goro.run(function()
      local caught = 0
      for _ = 1, 2000 do
        local ok, err = pcall(tm.cgo_callback, function() error("boom") end)
        if not ok and err:find("boom") and err:find("stack traceback") then
          caught = caught + 1
        end
        local m = goro.m()
        assert(m.ncgo == 0 and m.ncallback == 0, "counters leaked")
      end
      return caught
    end)
    assert.are.equal(2000, n)
  end)

  it("refuses its trampoline when Lua calls it out of turn", function()
    -- The frame under the callback's function is goro_call's trampoline;
    -- called from Lua it has no call to run and raises instead.
    local ok, err = goro.run(function()
      local tramp
      tm.cgo_callback(function() tramp = debug.getinfo(2, "f").func end)
      assert(debug.getinfo(tramp, "S").what == "C")
      return pcall(tramp)
    end)
    assert.is_false(ok)
    assert.matches("goro_call: trampoline called out of turn", err)
  end)

  it("also works from C that Lua called directly (no cgocall)", function()
    local m = goro.run(function()
      local seen
      tm.direct_call(function() seen = goro.m() end)
      return seen
    end)
    assert.are.same({0, 1}, {m.ncgo, m.ncallback})
  end)
end)

describe("goro.m() and goro.ms()", function()
  it("describe the calling M and every M", function()
    local m, ms = goro.run(function() return goro.m(), goro.ms() end)
    assert.are.equal("integer", math.type(m.id))
    assert.is_false(m.extra)
    local found
    for _, x in ipairs(ms) do
      if x.id == m.id then found = x end
    end
    assert.is_table(found)
    assert.are.equal("running", found.state)
    assert.is_number(found.g)
    assert.is_nil(goro.m(), "outside the runtime there is no M")
  end)

  it("reports no extra M in C from a plain script thread", function()
    assert.is_false(tm.is_extra_in_c())
  end)
end)

describe("a run that is over", function()
  -- A G in C whose callback waits (on a G stack locked to its M) must not
  -- hold the run up once it is over: the callback unwinds with an error,
  -- its C returns, and the run ends. Each callback would wait 3 s, then
  -- say so; unwound, it never does.
  local function run_with_a_waiting_callback(opts, body)
    local finished = false
    local ok, err = pcall(goro.run, opts, function()
      goro.go(function()
        tm.cgo_callback(function() goro.sleep(3); finished = true end)
      end)
      goro.sleep(0.02)  -- the G is in C now, inside its callback
      return body()
    end)
    return ok, err, finished
  end

  it("unwinds callbacks that wait when the main G returns", function()
    local ok, v, finished = run_with_a_waiting_callback({}, function() return "done" end)
    assert.are.same({true, "done", false}, {ok, v, finished})
  end)

  it("unwinds them when another G fails, and reports that failure", function()
    local ok, err, finished = run_with_a_waiting_callback({}, function()
      goro.go(function() error("boom") end)
      goro.sleep(10)
    end)
    assert.is_false(ok)
    assert.matches("^goroutine %d+: .*boom", err)
    assert.is_false(finished)
  end)

  it("says it timed out when the main G itself waits in a callback", function()
    for _, catch in ipairs({false, true}) do
      local finished = false
      local err = h.errmsg(goro.run, {timeout = 0.1}, function()
        local f = function() tm.cgo_callback(function() goro.sleep(3); finished = true end) end
        if catch then pcall(f) else f() end  -- caught, the main G then returns
      end)
      assert.matches("^goro.run: timed out", err)
      assert.is_false(finished)
    end
  end)

  it("unwinds them when it times out, and says it timed out", function()
    local ok, err, finished = run_with_a_waiting_callback({timeout = 0.1}, function()
      goro.sleep(10)
    end)
    assert.is_false(ok)
    assert.matches("^goro.run: timed out", err)
    assert.is_false(finished)
  end)
end)
