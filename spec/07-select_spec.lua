-- goro.select over channel cases, with and without goro.default.
local h = require "spec.helpers"
local goro = h.goro

describe("goro.select(...)", function()
  it("takes a ready receive and returns its position, value and ok", function()
    local i, v, ok = goro.run(function()
      local a, b = goro.chan(1), goro.chan(1)
      b:send("bee")
      return goro.select(a:case_recv(), b:case_recv())
    end)
    assert.are.same({2, "bee", true}, {i, v, ok})
  end)

  it("takes a ready send", function()
    local i, got = goro.run(function()
      local a = goro.chan(1)
      local i = goro.select(goro.chan():case_recv(), a:case_send("x"))
      return i, a:recv()
    end)
    assert.are.equal(2, i)
    assert.are.equal("x", got)
  end)

  it("takes an unbuffered channel's waiting sender or receiver at once", function()
    local got = goro.run(function()
      local a, b, got = goro.chan(), goro.chan(), {}
      goro.go(function() a:send("from a") end)
      goro.go(function() got.b = b:recv() end)
      goro.yield()  -- both wait now: the select below need not
      got.recv = {goro.select(a:case_recv(), goro.default)}
      got.send = goro.select(b:case_send("to b"), goro.default)
      goro.yield()
      return got
    end)
    assert.are.same({1, "from a", true}, got.recv)
    assert.are.equal(1, got.send)
    assert.are.equal("to b", got.b)
  end)

  it("passes over a waiter whose select was won elsewhere, to a ready case", function()
    -- g's select waits on a and b; a receive from a wins it, and g's
    -- waiter on b stays in b's queue, stale, until g runs: b looks ready
    -- and is not, and c, which is, must be taken every time.
    local taken = goro.run(function()
      local taken = {}
      for k = 1, 40 do
        local a, b, c = goro.chan(), goro.chan(), goro.chan(1)
        goro.go(function() goro.select(a:case_send(1), b:case_send(2)) end)
        goro.yield()
        a:recv()
        c:send("c")
        taken[k] = goro.select(b:case_recv(), c:case_recv(), goro.default)
        goro.yield()
      end
      return taken
    end)
    for k = 1, 40 do assert.are.equal(2, taken[k], "round " .. k) end
  end)

  it("returns goro.default's position when nothing is ready", function()
    local i = goro.run(function()
      return goro.select(goro.chan():case_recv(), goro.default)
    end)
    assert.are.equal(2, i)
    assert.are.equal(1, (goro.select(goro.default)))
  end)

  it("chooses uniformly at random among ready cases", function()
    local counts = goro.run(function()
      local a, b, c = goro.chan(1), goro.chan(1), goro.chan(1)
      local counts = {0, 0, 0}
      for _ = 1, 3000 do
        a:send(1); b:send(2); c:send(3)
        local i = goro.select(a:case_recv(), b:case_recv(), c:case_recv())
        counts[i] = counts[i] + 1
        for _, ch in ipairs({a, b, c}) do
          goro.select(ch:case_recv(), goro.default)
        end
      end
      return counts
    end)
    for i = 1, 3 do
      assert.is_true(counts[i] > 800, "case " .. i .. " chosen " .. counts[i] .. " times")
    end
  end)

  it("blocks until a case is ready, then leaves the other queues", function()
    local i, v, left = goro.run(function()
      local a, b = goro.chan(), goro.chan()
      goro.go(function() goro.sleep(0.01); b:send("late") end)
      local i, v = goro.select(a:case_recv(), b:case_recv())
      -- a must no longer hold our waiter: a send on it must block
      local j = goro.select(a:case_send(1), goro.default)
      return i, v, j
    end)
    assert.are.same({2, "late", 2}, {i, v, left})
  end)

  it("is woken by a receiver for its send case", function()
    local i, got = goro.run(function()
      local a = goro.chan()
      local g = goro.go(function() goro.sleep(0.01); return a:recv() end)
      local i = goro.select(goro.chan():case_recv(), a:case_send("to you"))
      local _, got = g:wait()
      return i, got
    end)
    assert.are.equal(2, i)
    assert.are.equal("to you", got)
  end)

  it("reports a closed channel's receive as nil, false", function()
    local i, v, ok = goro.run(function()
      local a = goro.chan()
      goro.go(function() goro.sleep(0.01); a:close() end)
      return goro.select(a:case_recv())
    end)
    assert.are.same({1, nil, false}, {i, v, ok})
  end)

  it("raises when its send case meets a closed channel", function()
    local ch = goro.chan()
    ch:close()
    assert.matches("send on closed channel", h.errmsg(goro.select, ch:case_send(1)))
  end)

  it("with no cases blocks forever, as in Go", function()
    assert.matches("deadlock", h.errmsg(goro.run, function() goro.select() end))
  end)

  describe("with nil among the cases", function()
    it("never takes a nil case, and the positions still count it", function()
      local i, v, ok = goro.run(function()
        local a, b = nil, goro.chan(1)
        b:send("bee")
        return goro.select(a and a:case_recv(), b:case_recv())
      end)
      assert.are.same({2, "bee", true}, {i, v, ok})
    end)

    it("blocks on the other cases, a trailing nil included", function()
      local i, v = goro.run(function()
        local b = goro.chan()
        goro.go(function() goro.sleep(0.01); b:send("late") end)
        return goro.select(nil, b:case_recv(), nil)
      end)
      assert.are.same({2, "late"}, {i, v})
    end)

    it("takes goro.default when nothing else is ready", function()
      assert.are.equal(3, (goro.select(nil, nil, goro.default)))
      assert.are.equal(2, (goro.select(nil, goro.default, nil)))
    end)

    it("with only nil cases blocks forever, as an empty select", function()
      local err = h.errmsg(goro.run, function() goro.select(nil, nil) end)
      assert.matches("deadlock", err)
      assert.matches("%[select %(no cases%)", err)
    end)

    it("still checks the other cases", function()
      assert.matches("bad argument #2 to 'goro.select' %(select case expected, got number",
        h.errmsg(goro.select, nil, 42))
      assert.matches("more than one default",
        h.errmsg(goro.select, goro.default, nil, goro.default))
    end)
  end)

  it("rejects bad cases and a second default", function()
    assert.matches("bad argument #1 to 'goro.select' %(select case expected",
      h.errmsg(goro.select, 42))
    assert.matches("more than one default",
      h.errmsg(goro.select, goro.default, goro.default))
  end)

  it("raises outside a goroutine when it would block", function()
    assert.matches("goro: select called outside a goroutine",
      h.errmsg(goro.select, goro.chan():case_recv()))
  end)

  it("takes cases that Lua code cannot alter, goro.default included", function()
    local c = goro.chan(1):case_recv()
    assert.matches("attempt to index a goro.case value", h.errmsg(function() c[1] = "x" end))
    assert.matches("attempt to index a goro.case value",
      h.errmsg(function() goro.default[2] = 1 end))
    assert.matches("select case expected, got goro.chan", h.errmsg(goro.select, goro.chan(1)))
    assert.matches("select case expected, got table", h.errmsg(goro.select, {goro.chan(1), 1}))
  end)

  it("gets one receive case per channel, made once", function()
    local ch = goro.chan()
    assert.are.equal(ch:case_recv(), ch:case_recv())
    assert.are_not.equal(ch:case_send(1), ch:case_send(1))
  end)

  it("wants a value for a send case, nil being one", function()
    local ch = goro.chan(1)
    assert.matches("bad argument #1 to 'case_send' %(value expected%)",
      h.errmsg(function() return ch:case_send() end))
    local i, v, ok = h.run(function()
      assert.are.equal(1, goro.select(ch:case_send(nil)))
      return 1, ch:recv()
    end)
    assert.are.same({1, nil, true}, {i, v, ok})
  end)
end)
