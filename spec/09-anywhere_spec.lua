-- A G can block anywhere: under C frames, in metamethods, in nested
-- coroutines, in required modules. Stackless when it can yield, stackful
-- when it cannot.
local h = require "spec.helpers"
local goro = h.goro

-- An "oracle" G answering questions over a channel: blocking round trips.
local function oracle()
  local q = goro.chan()
  goro.go(function()
    for job in q:iter() do job.reply:send(job.f(table.unpack(job))) end
  end)
  return function(f, ...)
    local reply = goro.chan()
    q:send({reply = reply, f = f, ...})
    return reply:recv()
  end, q
end

describe("a G blocks", function()
  it("inside a table.sort comparator", function()
    local sorted, parks = goro.run(function()
      local ask, q = oracle()
      local t = {5, 1, 4, 2, 3, 9, 7, 8, 6}
      table.sort(t, function(a, b) return ask(function(x, y) return x < y end, a, b) end)
      q:close()
      return table.concat(t, ","), goro.stats().stackful_parks
    end)
    assert.are.equal("1,2,3,4,5,6,7,8,9", sorted)
    assert.is_true(parks > 0, "the comparator parked stackfully")
  end)

  it("inside a string.gsub replacement function", function()
    local s = goro.run(function()
      local ask, q = oracle()
      local s = ("abc"):gsub("%a", function(c) return ask(string.upper, c) end)
      q:close()
      return s
    end)
    assert.are.equal("ABC", s)
  end)

  it("inside __index, __lt and __call metamethods reached from C", function()
    local r = goro.run(function()
      local ch = goro.chan()
      goro.go(function() while true do ch:send(42) end end)
      local mt = {
        __index = function() return ch:recv() end,
        __lt = function() return ch:recv() == 42 end,
        __call = function() return ch:recv() end,
      }
      local a, b = setmetatable({}, mt), setmetatable({}, mt)
      return {rawlen({}) + a.x, a < b, a(), (select(2, pcall(a)))}
    end)
    assert.are.same({42, true, 42, 42}, r)
  end)

  it("inside pcall and xpcall, which still catch an error raised after waking", function()
    local r = goro.run(function()
      local ch = goro.chan(1)
      local ok1, e1 = pcall(function() goro.sleep(0.001); error("one", 0) end)
      local ok2, e2 = xpcall(function() ch:send(1); goro.sleep(0.001); error("two", 0) end,
        function(m) return "handled " .. m end)
      -- inside a non-yieldable pcall (under a C frame): stackful, then error
      local ok3, e3
      table.sort({2, 1}, function(a, b)
        ok3, e3 = pcall(function() goro.sleep(0.001); error("three", 0) end)
        return a < b
      end)
      return {ok1, e1, ok2, e2, ok3, e3}
    end)
    assert.are.same({false, "one", false, "handled two", false, "three"}, r)
  end)

  it("inside a coroutine.wrap iterator body; the iterator keeps its meaning", function()
    local r = goro.run(function()
      local ch = goro.chan()
      goro.go(function() for i = 1, 3 do ch:send(i * 10) end end)
      local out = {}
      for v in coroutine.wrap(function()
        for _ = 1, 3 do coroutine.yield(ch:recv()) end
      end) do out[#out + 1] = v end
      return out
    end)
    assert.are.same({10, 20, 30}, r)
  end)

  it("inside a nested coroutine.resume; the whole G parks", function()
    local r = goro.run(function()
      local log = {}
      local co = coroutine.create(function(a)
        goro.sleep(0.005)
        local b = coroutine.yield(a + 1)
        goro.sleep(0.005)
        return b * 2
      end)
      goro.go(function() log[#log + 1] = "other ran while nested slept" end)
      local ok1, v1 = coroutine.resume(co, 1)
      local ok2, v2 = coroutine.resume(co, 21)
      return {ok1, v1, ok2, v2, coroutine.status(co), log[1]}
    end)
    assert.are.same({true, 2, true, 42, "dead", "other ran while nested slept"}, r)
  end)

  it("in a module's top-level code run by require", function()
    local name = "goro_spec_blocking_module"
    package.preload[name] = function()
      goro.sleep(0.001)
      return {loaded = true}
    end
    local m = goro.run(function() return require(name) end)
    package.loaded[name], package.preload[name] = nil, nil
    assert.is_true(m.loaded)
  end)

  it("stacklessly at Lua level: a parked G holds no C stack", function()
    local stacks, parks = goro.run(function()
      local ch = goro.chan()
      for _ = 1, 100 do goro.go(function() ch:recv() end) end
      goro.yield()
      local s = goro.stats()
      for _ = 1, 100 do ch:send(1) end
      return s.stacks, s.stackless_parks
    end)
    assert.are.equal(1, stacks, "only the running main G holds a stack")
    assert.is_true(parks >= 100)
  end)

  it("never inside a __gc finalizer: it raises instead", function()
    local err = goro.run(function()
      local msg
      setmetatable({}, {__gc = function()
        msg = select(2, pcall(goro.sleep, 0.01))
      end})
      collectgarbage()
      collectgarbage()
      goro.sleep(0.03)  -- the refused sleep left no timer behind
      return msg
    end)
    assert.matches("goro: sleep would block inside a __gc finalizer", err)
  end)

  it("never inside a __gc finalizer that runs while a hook is dispatched", function()
    -- Lua names such a finalizer's frame "hook '?'", not "__gc": its caller
    -- frame is the hooked one (found by spec/fuzz, seed 18).
    local msgs = goro.run({timeout = 10}, function()
      collectgarbage("incremental", 1000, 100, 1)  -- small steps, often
      local ran, got = 0, {}
      collectgarbage(); collectgarbage()
      for _ = 1, 40 do
        setmetatable({}, {__gc = function()
          ran = ran + 1
          got[#got + 1] = select(2, pcall(function() goro.chan():recv() end))
        end})
      end
      -- Step until the collector is running finalizers, a few a step; the
      -- rest run in the steps taken while the count hook is dispatched.
      while ran == 0 do collectgarbage("step", 0) end
      local before = ran
      debug.sethook(function() end, "", 1)
      debug.sethook()
      collectgarbage("incremental", 200, 100, 13)  -- (back to Lua 5.4.s defaults)
      collectgarbage()
      got.under_hook = ran > before
      return got
    end)
    assert.is_true(msgs.under_hook, "no finalizer ran under the hook")
    assert.is_true(#msgs > 0)
    for _, m in ipairs(msgs) do
      assert.matches("goro: recv would block inside a __gc finalizer", m, 1, true)
    end
  end)

  it("blocks in a real hook function while another G's finalizer is in C", function()
    local tm = require "goro_testmod"
    local got = goro.run({timeout = 10}, function()
      local ch = goro.chan()
      local fin = goro.go(function()
        setmetatable({}, {__gc = function() tm.cgo_sleep(0.2) end})
        collectgarbage()
      end)
      goro.sleep(0.02)  -- fin's finalizer is in C now: the collector stopped
      goro.go(function() goro.sleep(0.02); ch:send("sent") end)
      local got
      debug.sethook(function()  -- a hook function is no finalizer: it blocks
        local v = ch:recv()
        debug.sethook()
        got = v
      end, "", 1)
      local _ = 1
      fin:wait()
      return got
    end)
    assert.are.equal("sent", got)
  end)

  it("never inside a __gc finalizer, whatever the blocking call", function()
    local msgs = goro.run(function()
      local ch, mu, wg = goro.chan(), goro.mutex(), goro.waitgroup()
      local other = goro.go(function() ch:recv() end)
      mu:lock()
      wg:add(1)
      goro.go(function() while true do goro.yield() end end)  -- a G to yield to
      local calls = {
        yield = goro.yield,
        recv = function() ch:recv() end,
        send = function() goro.chan():send(1) end,
        select = function() goro.select(goro.chan():case_recv()) end,
        lock = function() mu:lock() end,
        wait = function() wg:wait() end,
        gwait = function() other:wait() end,
      }
      local got = {}
      setmetatable({}, {__gc = function()
        for name, f in pairs(calls) do got[name] = select(2, pcall(f)) end
      end})
      collectgarbage()
      collectgarbage()
      return got
    end)
    for _, name in ipairs({"yield", "recv", "send", "select", "lock", "wait", "gwait"}) do
      assert.matches("inside a __gc finalizer", msgs[name] or "returned", 1, true)
    end
  end)
end)

-- Every blocking call, each in every place a G can block from. A blocker
-- makes fresh objects and returns (block, unblock); unblock runs on another
-- G, and block returns what the call got.
local blockers = {
  recv = function()
    local ch = goro.chan()
    return function() return (ch:recv()) end, function() ch:send("recv") end
  end,
  send = function()
    local ch = goro.chan()
    return function() ch:send(1); return "send" end, function() ch:recv() end
  end,
  select = function()
    local ch = goro.chan()
    return function() return select(2, goro.select(goro.chan():case_recv(), ch:case_recv())) end,
      function() ch:send("select") end
  end,
  sleep = function()
    return function() goro.sleep(0.001); return "sleep" end, function() end
  end,
  yield = function()
    return function() goro.yield(); return "yield" end, function() end
  end,
  lock = function()
    local mu = goro.mutex()
    mu:lock()
    return function() mu:lock(); mu:unlock(); return "lock" end, function() mu:unlock() end
  end,
  wgwait = function()
    local wg = goro.waitgroup()
    wg:add(1)
    return function() wg:wait(); return "wgwait" end, function() wg:done() end
  end,
  gwait = function()
    local gate = goro.chan()
    local g = goro.go(function() gate:recv(); return "gwait" end)
    return function() return select(2, g:wait()) end, function() gate:send(1) end
  end,
}

local places = {
  lua = function(block) return block() end,
  sort = function(block)
    local r
    table.sort({2, 1}, function(a, b) r = r or block(); return a < b end)
    return r
  end,
  gsub = function(block) return (string.gsub("x", "x", function() return block() end)) end,
  index = function(block) return setmetatable({}, {__index = function() return block() end}).k end,
  call = function(block) return setmetatable({}, {__call = function() return block() end})() end,
  pcall = function(block) return select(2, pcall(block)) end,
  wrap = function(block) return coroutine.wrap(function() return block() end)() end,
  resume = function(block) return select(2, coroutine.resume(coroutine.create(block))) end,
}

describe("every blocking call", function()
  it("works from every place a G can block", function()
    local got = goro.run(function()
      local got = {}
      for pname, place in pairs(places) do
        for bname, make in pairs(blockers) do
          local block, unblock = make()
          goro.go(function() goro.yield(); unblock() end)
          got[#got + 1] = pname .. " " .. tostring(place(block))
          got[#got + 1] = pname .. " " .. bname
        end
      end
      return got
    end)
    for i = 1, #got, 2 do assert.are.equal(got[i + 1], got[i]) end
    assert.are.equal(2 * 8 * 8, #got)
  end)
end)

describe("plain coroutines inside a G", function()
  it("behave exactly as in stock Lua", function()
    local r = goro.run(function()
      local co = coroutine.wrap(function(...)
        local x = coroutine.yield(...)
        local ok, err = pcall(coroutine.yield, x * 2)
        return "end", ok, err
      end)
      return {co(1, 2), co(5), co("again")}
    end)
    assert.are.same({1, 10, "end"}, {r[1], r[2], r[3]})
    assert.is_false(coroutine.isyieldable())
  end)
end)
