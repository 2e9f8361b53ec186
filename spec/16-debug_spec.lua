-- The debug library can change what goro keeps in its objects' user
-- values. Lua's rule is that debug may break invariants but must not
-- crash the C side: goro raises a clear error, or does not depend on
-- what was changed.
local h = require "spec.helpers"
local goro = h.goro

describe("debug.setuservalue on goro's objects", function()
  it("on a select case: select raises instead of using a non-channel", function()
    -- (a context is at least as large as a channel: only the type tag tells)
    for _, swap in ipairs({{}, goro.mutex(), goro.waitgroup(), goro.chan():case_recv(),
                           goro.context.background()}) do
      local err = h.errmsg(goro.run, function()
        local c = goro.chan(1)
        local cs = c:case_send(1)
        debug.setuservalue(cs, swap, 1)
        return goro.select(cs, goro.default)
      end)
      assert.matches("goro: select case 1 holds no channel %(debug.setuservalue%)", err)
    end
  end)

  it("on a select case: a send case given a timer's or a done channel raises", function()
    -- (ch:case_send refuses both; select must too, not take goro.default)
    local swaps = {{goro.after(10), "send on a timer's channel"},
                   {goro.context.background():done(), "send on a context's done channel"}}
    for _, swap in ipairs(swaps) do
      local err = h.errmsg(goro.run, function()
        local cs = goro.chan(1):case_send(1)
        debug.setuservalue(cs, swap[1], 1)
        return goro.select(cs, goro.default)
      end)
      assert.matches(swap[2], err, 1, true)
    end
  end)

  it("on a channel's cached receive case: a new case is made", function()
    local i, v = goro.run(function()
      local a, b = goro.chan(1), goro.chan(1)
      debug.setuservalue(a, b:case_recv(), 2)  -- another channel's case
      b:send("from b")
      a:send("from a")
      return goro.select(a:case_recv())
    end)
    assert.are.equal(1, i)
    assert.are.equal("from a", v)
  end)

  it("on a channel's cached receive case: its own send case is not taken for it", function()
    local i, v, ok = goro.run(function()
      local a = goro.chan(1)
      debug.setuservalue(a, a:case_send("sent"), 2)
      a:send("buffered")
      return goro.select(a:case_recv())
    end)
    assert.are.equal(1, i)
    assert.are.equal("buffered", v)
    assert.is_true(ok)
  end)

  it("on a large channel's buffer table: its operations raise", function()
    -- (a buffer larger than a userdata's user values can hold is a table)
    for _, op in ipairs({"send", "recv"}) do
      local err = h.errmsg(goro.run, function()
        local c = goro.chan(100000)
        c:send(1)
        debug.setuservalue(c, 42, 1)
        if op == "send" then c:send(2) else c:recv() end
      end)
      assert.matches("goro: a channel's buffer was replaced %(debug.setuservalue%)", err)
    end
  end)

  it("on a small channel's user values: it goes on, only values may change", function()
    -- (a small buffer's slots are user values: what is put there is a value)
    for uv = 1, 5 do
      local got = goro.run(function()
        local c, got = goro.chan(2), {}
        c:send(1)
        debug.setuservalue(c, 42, uv)
        c:send(2)
        for i = 1, 2 do got[i] = select(2, c:recv()) end
        c:send(3)
        got[3] = select(2, c:recv())
        return got
      end)
      assert.are.same({true, true, true}, got)
    end
  end)

  it("on a G handle: the G runs on, and only its results are lost", function()
    finally(function() goro.config{reuse_threads = true} end)
    local ok, err, ran = goro.run(function()
      goro.config{reuse_threads = false}  -- (see the next case)
      local ch, ran = goro.chan(), false
      local g = goro.go(function() ch:recv(); ran = true; return "result" end)
      goro.yield()  -- g parks in ch:recv()
      debug.setuservalue(g, nil, 1)  -- its thread's other anchor
      debug.setuservalue(g, nil, 2)
      collectgarbage()
      collectgarbage()
      ch:send("go on")
      local ok, err = g:wait()
      return ok, err, ran
    end)
    assert.is_true(ran, "the G ran to its end on its own thread")
    assert.is_false(ok)
    assert.matches("results are gone", err)
  end)

  it("on a G handle whose thread goes to the pool: its result stays", function()
    local ok, v = goro.run(function()
      local ch = goro.chan()
      local g = goro.go(function() ch:recv(); return "result" end)
      goro.yield()
      debug.setuservalue(g, nil, 1)
      collectgarbage()
      ch:send("go on")
      return g:wait()  -- (the result moved to the handle when g ended)
    end)
    assert.is_true(ok)
    assert.equals("result", v)
  end)
end)
