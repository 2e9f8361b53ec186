-- A G that never parks is preempted: sysmon signals its M after ~10 ms and
-- a count hook makes it yield (stacklessly) or give up the P (stackfully).
local h = require "spec.helpers"
local goro = h.goro

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
    local calls = goro.run(function()
      local calls = 0
      debug.sethook(function() calls = calls + 1 end, "", 1000)
      local done = false
      goro.go(function() goro.sleep(0.02); done = true end)
      while not done do end
      local hook = debug.gethook()
      debug.sethook()
      assert(hook ~= nil, "the user's hook is still set")
      return calls
    end)
    assert.is_true(calls > 0)
  end)
end)
