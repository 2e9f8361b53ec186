-- goro.now, goro.sleep, goro.after, goro.ticker.
local h = require "spec.helpers"
local goro = h.goro

describe("goro.now()", function()
  it("is monotonic seconds as a float", function()
    local a = goro.now()
    local b = goro.now()
    assert.are.equal("float", math.type(a))
    assert.is_true(b >= a)
  end)
end)

describe("goro.sleep(s)", function()
  it("parks the G for at least s seconds", function()
    local dt = goro.run(function()
      local t = goro.now()
      goro.sleep(0.03)
      return goro.now() - t
    end)
    assert.is_true(dt >= 0.03, "slept " .. dt)
  end)

  it("wakes sleepers in order of their deadlines", function()
    local order = goro.run(function()
      local ch = goro.chan(3)
      for _, d in ipairs({0.03, 0.01, 0.02}) do
        goro.go(function() goro.sleep(d); ch:send(d) end)
      end
      return {(ch:recv()), (ch:recv()), (ch:recv())}
    end)
    assert.are.same({0.01, 0.02, 0.03}, order)
  end)

  it("returns at once for a non-positive duration", function()
    assert.is_true(goro.run(function() goro.sleep(0); goro.sleep(-1); return true end))
  end)

  it("lets other G's run meanwhile", function()
    local n = goro.run(function()
      local n = 0
      goro.go(function() for _ = 1, 100 do n = n + 1; goro.yield() end end)
      goro.sleep(0.02)
      return n
    end)
    assert.are.equal(100, n)
  end)

  it("raises outside a goroutine and on bad input", function()
    assert.matches("goro: sleep called outside a goroutine", h.errmsg(goro.sleep, 1))
    assert.matches("bad argument #1 to 'goro.sleep' %(number expected",
      h.errmsg(goro.sleep, "x"))
  end)
end)

describe("goro.after(s)", function()
  it("returns a channel that receives the time once, s seconds later", function()
    local dt, v = goro.run(function()
      local t = goro.now()
      local ch = goro.after(0.02)
      local v = ch:recv()
      return goro.now() - t, v
    end)
    assert.is_true(dt >= 0.02)
    assert.are.equal("float", math.type(v))
  end)

  it("makes a timeout in select", function()
    local i = goro.run(function()
      return (goro.select(goro.chan():case_recv(), goro.after(0.01):case_recv()))
    end)
    assert.are.equal(2, i)
  end)

  it("costs a channel, not a goroutine, and is collected once unreachable", function()
    local gs, inheap, left = goro.run(function()
      local s, keep = goro.stats(), setmetatable({}, {__mode = "v"})
      for i = 1, 1000 do keep[i] = goro.after(3600) end
      local s2 = goro.stats()
      collectgarbage()
      collectgarbage()
      return s2.gs - s.gs, s2.timers, #keep
    end)
    assert.are.equal(0, gs)
    assert.are.equal(0, inheap, "nobody waits on them: none in the timer heap")
    assert.are.equal(0, left)
  end)

  it("puts nothing in the timer heap for a select that does not block", function()
    local inheap = goro.run(function()
      local ch, most = goro.chan(1), 0
      for i = 1, 100 do
        ch:send(i)
        goro.select(ch:case_recv(), goro.after(3600):case_recv())
        most = math.max(most, goro.stats().timers)
      end
      return most
    end)
    assert.are.equal(0, inheap)
  end)

  it("holds a time that came while nobody waited, and sends when it was due", function()
    local r = goro.run(function()
      local t0 = goro.now()
      local ch = goro.after(0.001)
      local t1 = goro.now()
      local r = {goro.select(ch:case_recv(), goro.default)}   -- not yet: 2
      goro.sleep(0.02)
      local v = ch:recv()
      r[2] = t0 + 0.001 <= v and v <= t1 + 0.001               -- its due time
      r[3] = #ch .. "/" .. ch:cap()                            -- as Go 1.23's
      return r
    end)
    assert.are.same({2, true, "0/0"}, r)
  end)

  it("goes to the G that waited, not to one that looks when it is due", function()
    local got, other = goro.run(function()
      local ch, other = goro.after(0.002), nil
      local looker = goro.go(function()
        local t0 = goro.now()
        while goro.now() - t0 < 0.005 do end  -- past the time, no scheduling point
        other = goro.select(ch:case_recv(), goro.default)
      end)
      local got = math.type(ch:recv())
      -- The looker finishes either way: had it taken the time, this G
      -- would never have received and the run would deadlock. (Waiting
      -- for it also covers a loaded machine, where sysmon may preempt the
      -- looker mid-spin and the timer fire at that scheduling point.)
      looker:wait()
      return got, other
    end)
    assert.are.equal("float", got)
    assert.are.equal(2, other, "the looker found nothing")
  end)

  it("fires at once for a zero, negative or NaN duration", function()
    local n = goro.run(function()
      local n = 0
      for _, s in ipairs({0, -1, 0 / 0}) do
        goro.after(s):recv()
        n = n + 1
      end
      return n
    end)
    assert.are.equal(3, n)
  end)

  it("is receive-only: sending on it or closing it raises", function()
    local ch = goro.after(1)
    assert.matches("send on a timer's channel", h.errmsg(ch.send, ch, 1))
    assert.matches("send on a timer's channel", h.errmsg(ch.case_send, ch, 1))
    assert.matches("close of a timer's channel", h.errmsg(ch.close, ch))
  end)

  it("checks its argument", function()
    assert.matches("bad argument #1 to 'goro.after' %(number expected, got string%)",
      h.errmsg(goro.after, "x"))
  end)
end)

describe("goro.timer(s)", function()
  it("fires once unless stopped; stop and reset say whether it was armed", function()
    local r = goro.run(function()
      local t = goro.timer(3600)
      local r = {t:stop(), t:stop()}
      local i = goro.select(t.ch:case_recv(), goro.after(0.01):case_recv())
      r[#r + 1] = i                   -- 2: nothing came
      r[#r + 1] = t:reset(0.001)       -- false: it was stopped
      r[#r + 1] = math.type(t.ch:recv())
      r[#r + 1] = t:stop()             -- false: it fired
      return r
    end)
    assert.are.same({true, false, 2, false, "float", false}, r)
  end)

  it("leaves no stale value behind stop or reset (Go 1.23)", function()
    local r = goro.run(function()
      local t = goro.timer(0.001)
      goro.sleep(0.01)                 -- it fired; nobody took the value
      local r = {t:reset(3600)}        -- true: a delivery was stopped
      r[2] = goro.select(t.ch:case_recv(), goro.default)   -- 2: nothing stale
      t:reset(0.001)
      goro.sleep(0.01)
      r[3] = t:stop()                  -- true again
      r[4] = goro.select(t.ch:case_recv(), goro.default)
      return r
    end)
    assert.are.same({true, 2, true, 2}, r)
  end)

  it("can be used by a finalizer that revives it", function()
    do
      -- the holder's finalizer runs after the timer's own __gc
      local holder = setmetatable({}, {__gc = function(o) o.t:reset(0.01) end})
      holder.t = goro.timer(3600)
    end
    for _ = 1, 4 do collectgarbage() end
    for _ = 1, 100 do goro.chan(1) end  -- reuse the memory
    assert.are.equal(0, goro.stats().timers)
    assert.is_true(goro.run(function() goro.sleep(0.02); return true end))
  end)
end)

describe("goro.ticker(s)", function()
  it("ticks every s seconds until stopped", function()
    local n, after = goro.run(function()
      local t = goro.ticker(0.01)
      local n = 0
      for _ = 1, 3 do t.ch:recv(); n = n + 1 end
      t:stop()
      goro.sleep(0.03)
      local i = goro.select(t.ch:case_recv(), goro.default)
      return n, i
    end)
    assert.are.equal(3, n)
    assert.are.equal(2, after, "no tick after stop")
  end)

  it("drops ticks for a slow reader and keeps its period", function()
    local first, second = goro.run(function()
      local t = goro.ticker(0.005)
      goro.sleep(0.05)   -- ten periods: one tick waits, the rest were dropped
      local a = goro.select(t.ch:case_recv(), goro.default)
      local b = goro.select(t.ch:case_recv(), goro.default)
      t:stop()
      return a, b
    end)
    assert.are.equal(1, first)
    assert.are.equal(2, second)
  end)

  it("does not hide a deadlock when nobody waits on it (Go 1.23)", function()
    local err = h.errmsg(goro.run, {timeout = 5}, function()
      local t = goro.ticker(0.01)   -- forgotten, never stopped
      local ch = goro.after(1)      -- nor read
      goro.chan():recv()
    end)
    assert.matches("^all goroutines are asleep %- deadlock!", err)
  end)

  it("still ticks with a period below a nanosecond", function()
    assert.are.equal(3, goro.run(function()
      local t = goro.ticker(5e-324)
      for _ = 1, 3 do t.ch:recv() end
      t:stop()
      return 3
    end))
  end)

  it("leaves nothing armed once stopped: a deadlock is seen at once", function()
    local err = h.errmsg(goro.run, {timeout = 5}, function()
      local t = goro.ticker(3600)
      t:stop()
      goro.chan():recv()
    end)
    assert.matches("^all goroutines are asleep %- deadlock!", err)
  end)

  it("changes its period with reset", function()
    local n = goro.run(function()
      local t = goro.ticker(3600)
      t:reset(0.001)
      for _ = 1, 3 do t.ch:recv() end
      t:stop()
      return 3
    end)
    assert.are.equal(3, n)
  end)

  it("outlives its run and keeps its time; the run leaves no timer behind", function()
    local t = goro.run(function() return goro.ticker(0.001) end)
    assert.are.equal(0, goro.stats().timers)
    local v = goro.run(function() return t.ch:recv() end)
    assert.are.equal("float", math.type(v))
    t:stop()
    assert.matches("stopped", tostring(t))
  end)

  it("rejects a non-positive or NaN interval", function()
    if h.apicheck_bug then return pending(h.apicheck_bug) end
    assert.matches("non%-positive interval", h.errmsg(goro.ticker, 0))
    assert.matches("non%-positive interval", h.errmsg(goro.ticker, 0 / 0))
    assert.matches("non%-positive interval", h.errmsg(function()
      goro.run(function() goro.ticker(1):reset(-1) end)
    end))
  end)
end)
