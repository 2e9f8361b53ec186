-- goro.lockthread() / goro.unlockthread(): Go's runtime.LockOSThread. A
-- locked G runs only on its thread; on a worker no other G runs there
-- meanwhile; goro.run's own thread keeps running other G's too.
local h = require "spec.helpers"
local goro = h.goro
local tm = require "goro_testmod"

-- Start f on a worker: the main G keeps M0 busy in C (through
-- goro_cgocall, the P lent) while f starts, so a worker must run it.
local function on_a_worker(f)
  goro.config{workers = 2}
  local g = goro.go(f)
  tm.cgo_sleep(0.05)
  return g
end

-- (spec 14 says why: under TSan a G spinning in plain Lua is never
-- preempted)
local it_spinning = h.unless_tsan(it, pending,
  "SIGURG waits for an interceptor that a G spinning in plain Lua never calls")

describe("goro.lockthread", function()
  it("keeps a G on its worker through parks of every kind", function()
    local r = goro.run({timeout = 20}, function()
      local ch, tids = goro.chan(), {}
      local g = on_a_worker(function()
        goro.lockthread()
        tids[#tids + 1] = tm.tid()
        for i = 1, 5 do
          goro.sleep(0.002)
          tids[#tids + 1] = tm.tid()
          ch:recv()
          tids[#tids + 1] = tm.tid()
          local once = i == 1
          table.sort({3, 1, 2}, function(a, b)  -- under a C call: stackful
            if once then once = false; ch:recv() end
            return a < b
          end)
          tids[#tids + 1] = tm.tid()
        end
        goro.unlockthread()
      end)
      for _ = 1, 6 do ch:send(true) end
      assert(g:wait())
      return tids
    end)
    assert.are.equal(16, #r)
    for i = 2, #r do assert.are.equal(r[1], r[i], "wake " .. i) end
  end)

  it("runs no other G on the locked worker meanwhile", function()
    local r = goro.run({timeout = 20}, function()
      local locked_tid, locked, stop = nil, false, false
      local seen, ch = {}, goro.chan()
      local wg = goro.waitgroup()
      for _ = 1, 4 do
        wg:add(1)
        goro.go(function()
          while not stop do
            if locked then seen[tm.tid()] = true end
            goro.sleep(0.001)
          end
          wg:done()
        end)
      end
      local g = on_a_worker(function()
        goro.lockthread()
        locked_tid, locked = tm.tid(), true
        for _ = 1, 30 do goro.sleep(0.002) end
        locked = false
      end)
      g:wait()
      stop = true
      wg:wait()
      return {tid = locked_tid, seen = seen}
    end)
    assert.is_not_nil(r.tid)
    assert.is_nil(r.seen[r.tid], "another G ran on the locked thread")
    assert.is_true(next(r.seen) ~= nil, "the other G's ran")
  end)

  it("pins the main G to the thread that called goro.run", function()
    local outside = tm.tid()
    local tids = goro.run({timeout = 20}, function()
      goro.lockthread()
      local t, stop = {}, false
      goro.config{workers = 4}
      for _ = 1, 3 do  -- G's that keep M's in C, M0 among them at times
        goro.go(function() while not stop do tm.cgo_sleep(0.002) end end)
      end
      for _ = 1, 40 do
        goro.sleep(0.001)  -- whoever holds the P then readies it
        t[#t + 1] = tm.tid()
      end
      stop = true
      return t
    end)
    for i = 1, #tids do assert.are.equal(outside, tids[i], "wake " .. i) end
  end)

  it("counts nested calls, and says so in the dump", function()
    local d1, d2, d3 = goro.run(function()
      goro.lockthread()
      goro.lockthread()
      local d1 = goro.dump()
      goro.unlockthread()
      local d2 = goro.dump()
      goro.unlockthread()
      goro.unlockthread()  -- one more than locked: nothing
      return d1, d2, goro.dump()
    end)
    assert.matches("%[running, locked to its thread%]", d1)
    assert.matches("%[running, locked to its thread%]", d2)
    assert.matches("goroutine %d+ %[running%]", d3)
  end)

  it_spinning("lets others run while a locked G spins in Lua", function()
    local ticks = goro.run({timeout = 20}, function()
      local stop, ticks = false, 0
      local spinner = on_a_worker(function()
        goro.lockthread()
        while not stop do local x = 0 for i = 1, 1000 do x = x + i end end
      end)
      for _ = 1, 5 do goro.sleep(0.01); ticks = ticks + 1 end
      stop = true
      spinner:wait()
      return ticks
    end)
    assert.are.equal(5, ticks)
  end)

  it("takes its worker along when the G ends locked", function()
    local r = goro.run({timeout = 20}, function()
      local tid
      local g = on_a_worker(function() goro.lockthread(); tid = tm.tid() end)
      g:wait()
      for _ = 1, 200 do  -- the worker's thread ends
        local f = io.open("/proc/self/task/" .. tid .. "/stat")
        if not f then break end
        f:close()
        goro.sleep(0.005)
      end
      local gone = io.open("/proc/self/task/" .. tid .. "/stat") == nil
      local ok, other = goro.go(function() return tm.tid() end):wait()
      return {gone = gone, ok = ok, same = other == tid}
    end)
    assert.is_true(r.gone, "the locked G's worker thread is still there")
    assert.is_true(r.ok, "G's run after it")
    assert.is_false(r.same)
  end)

  it("leaves its worker to others once unlocked", function()
    local r = goro.run({timeout = 20}, function()
      local tid
      local g = on_a_worker(function()
        goro.lockthread(); tid = tm.tid(); goro.unlockthread()
      end)
      g:wait()
      goro.sleep(0.05)
      local f = io.open("/proc/self/task/" .. tid .. "/stat")
      if f then f:close() end
      return f ~= nil
    end)
    assert.is_true(r, "an unlocked G's end took its worker along")
  end)

  it("keeps a lock taken inside a callback after the callback returns", function()
    local d1, d2, same = goro.run(function()
      local tid = tm.tid()
      tm.cgo_callback(function() goro.lockthread() end)
      local d1 = goro.dump()
      goro.sleep(0.01)
      local same = tm.tid() == tid
      goro.unlockthread()
      return d1, goro.dump(), same
    end)
    assert.matches("%[running, locked to its thread%]", d1)
    assert.matches("goroutine %d+ %[running%]:", d2)
    assert.is_true(same)
  end)

  it("refuses the frame thread where there is no host, and a bad place", function()
    local e1, e2 = goro.run(function()
      return h.errmsg(goro.lockthread, "frame"), h.errmsg(goro.lockthread, "there")
    end)
    assert.matches("goro: lockthread: no frame thread %(the host has not called goro_open%)", e1)
    assert.matches("bad argument #1 to 'goro.lockthread' %(invalid option 'there'%)", e2)
  end)

  it("raises outside a goroutine", function()
    assert.matches("goro: lockthread called outside a goroutine",
      h.errmsg(goro.lockthread))
    assert.matches("goro: unlockthread called outside a goroutine",
      h.errmsg(goro.unlockthread))
  end)
end)
