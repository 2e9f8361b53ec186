-- A G that never parks is preempted: sysmon signals its M after ~10 ms and
-- a count hook makes it yield (stacklessly) or give up the P (stackfully).
local h = require "spec.helpers"
local goro = h.goro
local tm = require "goro_testmod"

-- TSan delivers an asynchronous signal at its next interceptor, and a G
-- spinning in plain Lua (lua5.4 is not instrumented) calls none: sysmon's
-- SIGURG is never handled there. A user's debug hook does call one
-- (ldblib's hook looks its table up by name: strcmp), so that spec runs.
local it_spinning = h.unless_tsan(it, pending,
  "SIGURG waits for an interceptor that a G spinning in plain Lua never calls")

describe("preemption", function()
  it_spinning("lets a sleeping G run while another spins in plain Lua", function()
    local n, preempts = goro.run(function()
      local done = false
      goro.go(function() goro.sleep(0.01); done = true end)
      local n = 0
      while not done do n = n + 1 end
      return n, goro.stats().preempts
    end)
    assert.is_true(n > 0)
    assert.is_true(preempts > 0, "sysmon asked the spinning G to yield")
  end)

  it_spinning("works under a C call too (a table.sort comparator that spins)", function()
    local ok = goro.run(function()
      local done = false
      goro.go(function() goro.sleep(0.01); done = true end)
      table.sort({3, 2, 1}, function(a, b)
        while not done do end
        return a < b
      end)
      return done
    end)
    assert.is_true(ok)
  end)

  it_spinning("lets goro.run's timeout fire on a G that never parks", function()
    local err = h.errmsg(goro.run, {timeout = 0.05}, function() while true do end end)
    assert.matches("timed out", err)
  end)

  it("keeps the user's own debug hook", function()
    local calls, same, mask, count = goro.run(function()
      local calls = 0
      local function hook() calls = calls + 1 end
      debug.sethook(hook, "", 1000)
      local done = false
      goro.go(function() goro.sleep(0.02); done = true end)
      while not done do end
      local now, mask, count = debug.gethook()
      debug.sethook()
      return calls, now == hook, mask, count
    end)
    assert.is_true(calls > 0)
    assert.is_true(same, "the user's hook is set again, not goro's")
    assert.equal("", mask)
    assert.equal(1000, count)
  end)

  -- sysmon's SIGURG comes while C code (c_busy) holds the P as the body of
  -- a goro_call on a callback thread: the hook is armed there, and no Lua
  -- runs there to fire it. Coming back to the G's own thread must move it
  -- (disarm there, arm here), or the G can never be preempted again.
  it_spinning("still preempts a G that was asked to yield inside a C callback", function()
    local done = goro.run(function()
      local done = false
      goro.go(function() goro.sleep(0.005); done = true end)
      tm.direct_call(tm.c_busy, 0.05)  -- sysmon asks after 10 ms
      local t0 = os.clock()
      while not done and os.clock() - t0 < 2 * h.time_scale do end
      return done
    end)
    assert.is_true(done, "the spinning G gave up the P to the sleeper")
  end)
end)
