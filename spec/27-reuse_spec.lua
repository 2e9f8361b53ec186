-- A G's Lua thread goes to the next G when the G ends, unless it escaped:
-- goro handed it out (coroutine.running() in the G, goro_escape_thread
-- from C), so that a thread value never stands for two G's
-- (runtime/HACKING.md, "A G's Lua thread").
local h = require "spec.helpers"
local goro = h.goro
local tm = require "goro_testmod"

-- The thread G's handle anchors while it runs, as text: a G can name its
-- own thread this way without making it escape (and without keeping it).
local function my_thread_name()
  return tostring(debug.getuservalue(goro.self(), 1))
end

-- Counts under emulators and sanitizers come down with their slowness.
local function scaled(n)
  return math.max(1000, n // h.time_scale)
end

describe("a G's Lua thread", function()
  it("goes to the next G when it did not escape", function()
    h.run(function()
      local before = goro.stats().threads_reused
      local _, name = goro.go(my_thread_name):wait()
      local ok, again = goro.go(my_thread_name):wait()
      assert.is_true(ok)
      assert.equals(name, again)
      assert.is_true(goro.stats().threads_reused > before)
    end)
  end)

  it("of a G with several results goes to the pool, its results to the handle", function()
    h.run(function()
      local g = goro.go(function() return "a", nil, 3, my_thread_name() end)
      local r = table.pack(g:wait())
      assert.equals(5, r.n)
      assert.same({true, "a", nil, 3}, {r[1], r[2], r[3], r[4]})
      local _, again = goro.go(my_thread_name):wait()
      assert.equals(r[5], again, "the next G runs on its thread")
      assert.same({true, "a", nil, 3, r[5]}, {g:wait()})  -- (again: copies)
      assert.equals(5, select("#", g:wait()))
      local g2 = goro.go(function() return 1, 2 end)
      g2:wait()
      debug.setuservalue(g2, nil, 1)
      local ok, err = g2:wait()
      assert.is_false(ok)
      assert.matches("results are gone", err)
    end)
  end)

  it("is not reused with goro.config{reuse_threads = false}", function()
    finally(function() goro.config{reuse_threads = true} end)
    h.run(function()
      assert.is_true(goro.config().reuse_threads)
      goro.go(function() end):wait()
      assert.is_true(goro.stats().threads_pooled > 0)
      assert.is_false(goro.config{reuse_threads = false}.reuse_threads)
      assert.equals(0, goro.stats().threads_pooled, "the pool was emptied")
      local before = goro.stats().threads_reused
      for _ = 1, 10 do goro.go(function() end):wait() end
      assert.equals(before, goro.stats().threads_reused)
      assert.equals(0, goro.stats().threads_pooled)
    end)
    assert.matches("reuse_threads must be a boolean",
      h.errmsg(goro.config, {reuse_threads = 1}))
  end)

  it("never comes back as another G's once coroutine.running() returned it", function()
    local seen = setmetatable({}, {__mode = "k"})  -- thread -> the G it was
    local held  -- one of them, held strongly all along
    h.run(function()
      for i = 1, 2000 do
        local ok, err = goro.go(function()
          local co = coroutine.running()
          if seen[co] then
            error(("G %d runs on the thread of G %d"):format(i, seen[co]))
          end
          seen[co] = i
          held = held or co
          assert(co ~= held or i == 1, "the held thread came back")
          if i % 2 == 0 then goro.yield() end
        end):wait()
        assert(ok, err)
        goro.go(function() end):wait()  -- (threads that do go to the pool)
        if i % 500 == 0 then collectgarbage() end
      end
    end)
    assert.equals(1, seen[held])
  end)

  it("keeps coroutine.running() identity across 100,000 short G's", function()
    local n = scaled(100000)
    local state = setmetatable({}, {__mode = "k"})
    local bad = 0
    h.run(function()
      local wg = goro.waitgroup()
      local batch = 1000
      for base = 0, n - 1, batch do
        for i = base + 1, math.min(base + batch, n) do
          wg:add(1)
          goro.go(function()
            local co = coroutine.running()
            if state[co] ~= nil then bad = bad + 1 end
            state[co] = i
            goro.yield()  -- others run between the write and the check
            if state[co] ~= i then bad = bad + 1 end
            wg:done()
          end)
          if i % 3 == 0 then goro.go(function() end) end  -- (pooled)
        end
        wg:wait()
      end
    end)
    assert.equals(0, bad)
  end)

  it("is not reused when C kept it after goro_escape_thread", function()
    h.run(function()
      local ref, marked  -- (the G returns nothing: a G with results is
      goro.go(function() ref, marked = tm.keep_thread(true) end):wait()
      assert.is_true(marked)  -- pooled only with at most one)
      local kept = tm.held(ref)
      for _ = 1, 20 do
        local _, same = goro.go(function() return coroutine.running() == kept end):wait()
        assert.is_false(same)
        goro.go(function() end):wait()
      end
      -- in a coroutine inside a G, and outside any G: not a G's thread
      local _, co_marked = goro.go(function()
        return select(2, coroutine.wrap(function() return tm.keep_thread(true) end)())
      end):wait()
      assert.is_false(co_marked)
    end)
    assert.is_false(select(2, tm.keep_thread(true)))
  end)

  it("is reused when C kept it without goro_escape_thread (the rule goro.h states)", function()
    h.run(function()
      goro.go(function() end):wait()  -- (a thread in the pool)
      local _, ref = goro.go(function() return (tm.keep_thread(false)) end):wait()
      local kept = tm.held(ref)
      local _, same = goro.go(function() return coroutine.running() == kept end):wait()
      assert.is_true(same)
    end)
  end)

  it("comes to the next G clean: no frame, value, hook, upvalue or __close left", function()
    h.run(function()
      local closed, leak = 0, nil
      local g1 = goro.go(function()
        local name = my_thread_name()
        debug.sethook(function() end, "l")  -- a hook set, then taken off
        debug.sethook()
        local x <close> = setmetatable({}, {__close = function() closed = closed + 1 end})
        local mine = "g1's local"
        leak = function() return mine end  -- an upvalue open on g1's stack
        return name
      end)
      local _, name1 = g1:wait()
      assert.equals(1, closed)
      local g2 = goro.go(function(...)
        local name = tostring(coroutine.running())
        local r = {
          same = name == name1,
          nargs = select("#", ...),
          frames = debug.getinfo(2, "f") == nil and 1 or 2,
          hook = debug.gethook(),
          vararg = debug.getlocal(1, -1),
        }
        local mine = "g2's local"  -- where g1's `mine` was
        r.upvalue = leak()
        r.mine = mine
        return r
      end)
      local ok, r = g2:wait()
      assert.is_true(ok)
      assert.is_true(r.same, "g2 runs on g1's thread")
      assert.equals(0, r.nargs)
      assert.equals(1, r.frames, "g2's function is the thread's only frame")
      assert.is_nil(r.hook)
      assert.is_nil(r.vararg)
      assert.equals("g1's local", r.upvalue, "g1's upvalue was closed with g1")
      assert.equals(1, closed, "g1's __close ran once")
      -- results come from the handles, not from the thread
      assert.same({true, name1}, {g1:wait()})
      assert.equals(1, select("#", goro.go(function() end):wait()))
    end)
  end)

  it("serves the next G after its G grew its stack", function()
    h.run(function()
      local function deep(n) if n == 0 then return 0 end return 1 + deep(n - 1) end
      local _, name1 = goro.go(function() deep(5000); return my_thread_name() end):wait()
      local ok, name2, v = goro.go(function()
        local s = 0
        for i = 1, 100 do s = s + deep(i) end
        return my_thread_name() .. "", s
      end):wait()
      assert.is_true(ok)
      assert.equals(name1, name2)
      assert.equals(5050, v)
      collectgarbage()  -- (shrinks the pooled thread's stack)
      local _, r = goro.go(function() return deep(100) end, nil):wait()
      assert.equals(100, r)
    end)
  end)

  it("does not carry a hook left set by its G", function()
    h.run(function()
      local g1 = goro.go(function() debug.sethook(function() end, "l") end)
      g1:wait()
      local _, hook = goro.go(function() return debug.gethook() end):wait()
      assert.is_nil(hook)
    end)
  end)

  it("of a G that failed inside a stackful park is not reused", function()
    h.run(function()
      local ch = goro.chan()
      local t = {3, 1, 2}
      local g1 = goro.go(function()
        table.sort(t, function(a, b) ch:recv(); error("boom") end)
      end)
      goro.go(function() ch:send(1) end)
      local ok, err = g1:wait()  -- (waited for: its error does not stop the run)
      assert.is_false(ok)
      assert.matches("boom", err)
      assert.matches("boom", select(2, g1:wait()), "its error stays with its handle")
      for _ = 1, 3 do
        local ok2, v = goro.go(function(a) return a * 2 end, 21):wait()
        assert.is_true(ok2)
        assert.equals(42, v)
      end
    end)
  end)
end)
