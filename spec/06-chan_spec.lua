-- Channels: Go's semantics for Lua values.
local h = require "spec.helpers"
local goro = h.goro

describe("goro.chan([cap])", function()
  it("makes unbuffered and buffered channels", function()
    local a, b = goro.chan(), goro.chan(3)
    assert.are.equal(0, a:cap())
    assert.are.equal(3, b:cap())
    assert.are.equal(0, #b)
  end)

  it("rejects a bad capacity", function()
    assert.matches("bad argument #1 to 'goro.chan' %(capacity out of range%)",
      h.errmsg(goro.chan, -1))
    assert.matches("number has no integer representation", h.errmsg(goro.chan, 1.5))
    assert.matches("capacity out of range", h.errmsg(goro.chan, math.maxinteger))
  end)
end)

describe("ch:send(v) and ch:recv()", function()
  it("rendezvous on an unbuffered channel", function()
    local log = goro.run(function()
      local ch, log = goro.chan(), {}
      goro.go(function() log[#log + 1] = "send"; ch:send(1); log[#log + 1] = "sent" end)
      goro.yield()
      log[#log + 1] = "recv"
      local v = ch:recv()
      log[#log + 1] = "got " .. v
      goro.yield()
      return table.concat(log, ",")
    end)
    assert.are.equal("send,recv,got 1,sent", log)
  end)

  it("keep FIFO order in a buffered channel and block when it is full", function()
    local got, blocked = goro.run(function()
      local ch, blocked = goro.chan(2), true
      ch:send("a"); ch:send("b")
      assert.are.equal(2, #ch)
      goro.go(function() ch:send("c"); blocked = false end)
      goro.yield()
      local was = blocked
      local got = {(ch:recv()), (ch:recv()), (ch:recv())}
      return got, was
    end)
    assert.are.same({"a", "b", "c"}, got)
    assert.is_true(blocked)
  end)

  it("keep FIFO order round the ring, small buffers and large ones alike", function()
    -- (a buffer of up to 65532 slots is held in the channel's user values,
    -- a larger one in a table: both sides of that line, nil included)
    for _, cap in ipairs({1, 3, 65532, 65533, 65534}) do
      local bad = goro.run(function()
        local ch, half = goro.chan(cap), (cap + 1) // 2
        local function v(i) return i % 7 == 0 and nil or i end
        for i = 1, cap do ch:send(v(i)) end
        if #ch ~= cap then return "not full" end
        for i = 1, half do
          local got, ok = ch:recv()
          if got ~= v(i) or not ok then return "at " .. i end
        end
        for i = cap + 1, cap + half do ch:send(v(i)) end  -- round the end
        for i = half + 1, cap + half do
          local got, ok = ch:recv()
          if got ~= v(i) or not ok then return "at " .. i end
        end
        return #ch == 0 and goro.select(ch:case_recv(), goro.default) == 2 or "not empty"
      end)
      assert.is_true(bad, ("cap %d: %s"):format(cap, tostring(bad)))
    end
  end)

  it("send their first argument only, whatever follows it", function()
    -- (ch:send(other:recv()) passes v, ok: ok is not what is sent)
    local got = goro.run(function()
      local buffered, unbuffered, got = goro.chan(1), goro.chan(), {}
      buffered:send("a", true, "x")
      got[1] = buffered:recv()
      goro.go(function() got[2] = unbuffered:recv() end)
      goro.yield()  -- it waits in unbuffered's queue: the send hands v over
      unbuffered:send("b", true)
      goro.go(function() unbuffered:send("c", false) end)  -- it waits
      goro.yield()
      got[3] = unbuffered:recv()
      return got
    end)
    assert.are.same({"a", "b", "c"}, got)
  end)

  it("carry any Lua value, nil and false included", function()
    local vals = {nil, false, 0, "s", {}, print, coroutine.create(print)}
    local n = 7
    local got = goro.run(function()
      local ch, out = goro.chan(), {}
      goro.go(function() for i = 1, n do ch:send(vals[i]) end end)
      for i = 1, n do
        local v, ok = ch:recv()
        assert.is_true(ok)
        out[i] = v
      end
      return out
    end)
    for i = 1, n do assert.are.equal(vals[i], got[i]) end
  end)

  it("carry nil through a buffered channel too", function()
    local v, ok = goro.run(function()
      local ch = goro.chan(1)
      ch:send(nil)
      return ch:recv()
    end)
    assert.is_nil(v)
    assert.is_true(ok)
  end)

  it("work outside a goroutine when they need not block", function()
    local ch = goro.chan(1)
    ch:send(5)
    assert.are.equal(5, (ch:recv()))
  end)

  it("raise outside a goroutine when they would block", function()
    local ch = goro.chan()
    assert.matches("goro: send called outside a goroutine", h.errmsg(ch.send, ch, 1))
    assert.matches("goro: recv called outside a goroutine", h.errmsg(ch.recv, ch))
  end)

  it("check their arguments", function()
    local ch = goro.chan()
    assert.matches("bad argument #1 to 'send' %(goro.chan expected",
      h.errmsg(function() ch.send({}, 1) end))
    assert.matches("bad argument #1 to 'send' %(value expected%)",
      h.errmsg(function() ch:send() end))
    assert.matches("bad argument #1 to 'recv' %(goro.chan expected",
      h.errmsg(function() ch.recv(42) end))
  end)

  it("are not fooled by another userdata given a channel's metatable", function()
    -- The check is a type tag inside the userdata, not its metatable, which
    -- debug.setmetatable can change: a mutex posing as a channel is refused.
    local m = goro.mutex()
    debug.setmetatable(m, getmetatable(goro.chan()))
    assert.matches("'send' on bad self %(goro.chan expected",
      h.errmsg(function() m:send(1) end))
    local ch = goro.chan(1)
    debug.setmetatable(ch, getmetatable(goro.waitgroup()))
    assert.matches("'add' on bad self %(goro.waitgroup expected",
      h.errmsg(function() ch:add(1) end))
  end)

  it("move a million values between two G's", function()
    local sum = goro.run(function()
      local ch = goro.chan(16)
      goro.go(function() for i = 1, 1e6 do ch:send(i) end; ch:close() end)
      local s = 0
      for v in ch:iter() do s = s + v end
      return s
    end)
    assert.are.equal(500000500000, sum)
  end)
end)

describe("ch:close()", function()
  it("lets receivers drain the buffer, then gives nil, false", function()
    local r = goro.run(function()
      local ch = goro.chan(2)
      ch:send(1); ch:send(2); ch:close()
      local a, aok = ch:recv()
      local b, bok = ch:recv()
      local c, cok = ch:recv()
      return {a, aok, b, bok, c, cok}
    end)
    assert.are.same({1, true, 2, true, nil, false}, r)
  end)

  it("wakes every blocked receiver with nil, false", function()
    local n = goro.run(function()
      local ch, wg, n = goro.chan(), goro.waitgroup(), 0
      for _ = 1, 5 do
        wg:add(1)
        goro.go(function()
          local v, ok = ch:recv()
          if v == nil and ok == false then n = n + 1 end
          wg:done()
        end)
      end
      goro.yield()
      ch:close()
      wg:wait()
      return n
    end)
    assert.are.equal(5, n)
  end)

  it("makes blocked and later senders raise 'send on closed channel'", function()
    local ok, err = goro.run(function()
      local ch = goro.chan()
      local g = goro.go(function() ch:send(1) end)
      goro.yield()
      ch:close()
      return g:wait()
    end)
    assert.is_false(ok)
    assert.matches("send on closed channel", err)
    local ch = goro.chan(1)
    ch:close()
    assert.matches("send on closed channel", h.errmsg(ch.send, ch, 1))
  end)

  it("raises 'close of closed channel' the second time", function()
    local ch = goro.chan()
    ch:close()
    assert.matches("close of closed channel", h.errmsg(ch.close, ch))
  end)
end)

describe("ch:iter()", function()
  it("receives until the channel is closed", function()
    local got = goro.run(function()
      local ch = goro.chan()
      goro.go(function() for i = 1, 4 do ch:send(i * i) end; ch:close() end)
      return h.drain(ch)
    end)
    assert.are.same({1, 4, 9, 16}, got)
  end)
end)

describe("#ch and tostring", function()
  it("count buffered values and describe the channel", function()
    local ch = goro.chan(4)
    ch:send(1); ch:send(2)
    assert.are.equal(2, #ch)
    assert.matches("^goro.chan%(2/4%)", tostring(ch))
  end)
end)
