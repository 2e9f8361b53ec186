-- goro.rwmutex(), goro.once(), goro.cond(mutex) and goro.semaphore(n): the
-- rest of Go's sync, and golang.org/x/sync/semaphore.
--
-- G's may be preempted between any two Lua instructions, so a counter that
-- several G's update races unless a lock protects it. The exclusion specs
-- keep what each G saw in its own slot (when it held the lock, from when
-- to when) and check the slots once every G is done.
local h = require "spec.helpers"
local goro = h.goro

local it_spinning = h.unless_tsan(it, pending,
  "SIGURG waits for an interceptor that a G spinning in plain Lua never calls")

-- Run Lua without parking until sysmon asks this G to give up the P (after
-- 10 ms), so that it is preempted right where it spins (at most 1 s).
local function spin()
  local p, stop = goro.stats().preempts, goro.now() + 1
  while goro.stats().preempts == p and goro.now() < stop do end
end

-- Start f(i) in n G's and wait for all of them.
local function gang(n, f)
  local wg = goro.waitgroup()
  for i = 1, n do
    wg:add(1)
    goro.go(function() f(i); wg:done() end)
  end
  wg:wait()
end

-- Do any two of the intervals {from, to, writer} overlap where one of them
-- is a writer's? Also returns how many overlapped at most.
local function overlaps(iv)
  local bad, most = false, 0
  for i, a in ipairs(iv) do
    local n = 1
    for j, b in ipairs(iv) do
      if i ~= j and a[1] < b[2] and b[1] < a[2] then
        n = n + 1
        if a[3] or b[3] then bad = true end
      end
    end
    if n > most then most = n end
  end
  return bad, most
end

describe("goro.rwmutex()", function()
  it_spinning("keeps writers apart from everyone, readers together, under preemption", function()
    local iv, most, preempts = goro.run(function()
      local rw, iv = goro.rwmutex(), {}
      local p0 = goro.stats().preempts
      gang(12, function(i)
        local writer = i % 3 == 1  -- G 1 writes first: readers come meanwhile
        for _ = 1, 2 do
          if writer then rw:lock() else rw:rlock() end
          local from = goro.now()
          spin()
          iv[#iv + 1] = {from, goro.now(), writer}
          if writer then rw:unlock() else rw:runlock() end
        end
      end)
      local _, most = overlaps(iv)
      return iv, most, goro.stats().preempts - p0
    end)
    assert.are.equal(24, #iv)
    assert.is_false((overlaps(iv)), "a writer held the lock beside someone")
    assert.is_true(most >= 2, "readers held it together")
    assert.is_true(preempts > 0, "G's were preempted inside the lock")
  end)

  it("prefers a waiting writer, and admits the readers that waited before the next writer", function()
    local log = goro.run(function()
      local rw, log, wg = goro.rwmutex(), {}, goro.waitgroup()
      local function g(name, write)
        wg:add(1)
        goro.go(function()
          if write then rw:lock() else rw:rlock() end
          log[#log + 1] = name
          goro.yield()
          log[#log + 1] = name .. " out"
          if write then rw:unlock() else rw:runlock() end
          wg:done()
        end)
        goro.yield()
      end
      rw:rlock()              -- the main G reads
      g("W1", true)           -- waits for the main G's read lock
      g("R1")                 -- a new reader waits behind W1
      g("W2", true)
      g("R2")
      log[#log + 1] = "tryrlock " .. tostring(rw:tryrlock())
      log[#log + 1] = "main out"
      rw:runlock()
      wg:wait()
      return table.concat(log, ", ")
    end)
    assert.are.equal("tryrlock false, main out, W1, W1 out, R1, R2, R1 out, R2 out, W2, W2 out", log)
  end)

  it("trylock and tryrlock take it only when free for them", function()
    local rw = goro.rwmutex()
    assert.is_true(rw:tryrlock())
    assert.is_true(rw:tryrlock())
    assert.is_false(rw:trylock())
    rw:runlock()
    rw:runlock()
    assert.is_true(rw:trylock())
    assert.is_false(rw:tryrlock())
    assert.is_false(rw:trylock())
    rw:unlock()
    assert.is_true(rw:tryrlock())
  end)

  it("raises Go's texts on misuse", function()
    local rw = goro.rwmutex()
    assert.matches("sync: RUnlock of unlocked RWMutex", h.errmsg(rw.runlock, rw))
    assert.matches("sync: Unlock of unlocked RWMutex", h.errmsg(rw.unlock, rw))
    rw:rlock()
    assert.matches("sync: Unlock of unlocked RWMutex", h.errmsg(rw.unlock, rw))
    rw:runlock()
    rw:lock()
    assert.matches("sync: RUnlock of unlocked RWMutex", h.errmsg(rw.runlock, rw))
    rw:unlock()
    assert.is_true(rw:trylock(), "a failed call changes nothing")
  end)

  it("gives clear errors for bad arguments", function()
    local rw = goro.rwmutex()
    assert.matches("bad argument #1 to 'lock' %(goro.rwmutex expected, got table%)",
      h.errmsg(function() rw.lock({}) end))
    assert.matches("bad argument #1 to 'rlock' %(goro.context expected, got table%)",
      h.errmsg(function() rw:rlock({}) end))
    assert.matches("bad argument #1 to 'lock' %(goro.rwmutex expected, got goro.mutex%)",
      h.errmsg(function() rw.lock(goro.mutex()) end))
  end)

  it("raises outside a goroutine when it would block", function()
    local rw = goro.rwmutex()
    rw:rlock()
    assert.matches("goro: lock called outside a goroutine", h.errmsg(rw.lock, rw))
    assert.is_true(rw:tryrlock(), "the failed lock left no writer waiting")
  end)

  it("leaves no waiter behind when it may not park (a finalizer)", function()
    local msg, free = goro.run(function()
      local rw, msg = goro.rwmutex(), nil
      rw:rlock()
      setmetatable({}, {__gc = function() msg = select(2, pcall(rw.lock, rw)) end})
      collectgarbage()
      collectgarbage()
      local reader = rw:tryrlock()
      rw:runlock()
      rw:runlock()
      return msg, reader and rw:trylock()
    end)
    assert.matches("goro: lock would block inside a __gc finalizer", msg, 1, true)
    assert.is_true(free)
  end)
end)

describe("goro.once()", function()
  it_spinning("runs f once; callers meanwhile wait until it returns, under preemption", function()
    local runs, saw, args = goro.run(function()
      local once, runs, finished, saw, args = goro.once(), 0, false, {}, nil
      gang(8, function(i)
        once:call(function(...)
          runs = runs + 1
          args = {...}
          spin()         -- preempted: the others call meanwhile
          goro.sleep(0.001)   -- and parks
          finished = true
        end, i, "x")
        saw[i] = finished
      end)
      return runs, saw, args
    end)
    assert.are.equal(1, runs)
    assert.are.same({true, true, true, true, true, true, true, true}, saw)
    assert.are.same({1, "x"}, args)
  end)

  it("counts an error in f as done and raises it to the caller that ran f", function()
    local got = goro.run(function()
      local once, got = goro.once(), {}
      local gate = goro.chan()
      local first = goro.go(function()
        return pcall(once.call, once, function() gate:recv(); error("boom", 0) end)
      end)
      goro.yield()
      local second = goro.go(function()
        once:call(function() got[#got + 1] = "second ran" end)
        return "second returned"
      end)
      goro.yield()
      gate:send(1)
      got[#got + 1] = select(3, first:wait())
      got[#got + 1] = select(2, second:wait())
      once:call(function() got[#got + 1] = "third ran" end)
      return got
    end)
    assert.are.same({"boom", "second returned"}, got)
  end)

  it("raises when f calls it again instead of waiting for itself", function()
    local once = goro.once()
    local err = h.errmsg(once.call, once, function()
      once:call(function() end)
    end)
    assert.matches("sync: once:call from inside its own function", err)
  end)

  it("takes any callable and rejects the rest", function()
    local once, n = goro.once(), 0
    once:call(setmetatable({}, {__call = function(_, k) n = n + k end}), 2)
    assert.are.equal(2, n)
    assert.matches("bad argument #1 to 'call' %(function expected, got no value%)",
      h.errmsg(function() once:call() end))
    assert.matches("bad argument #1 to 'call' %(function expected, got table%)",
      h.errmsg(function() once:call({}) end))
  end)
end)

describe("goro.cond(mutex)", function()
  it_spinning("serves producers and consumers of a bounded queue", function()
    local got, maxlen, preempts = goro.run(function()
      local mu = goro.mutex()
      local notempty, notfull = goro.cond(mu), goro.cond(mu)
      local q, cap, maxlen, got, closed = {}, 3, 0, {}, false
      local p0 = goro.stats().preempts
      local consumers = goro.waitgroup()
      for c = 1, 2 do
        got[c] = {}
        consumers:add(1)
        goro.go(function()
          mu:lock()
          while true do
            while #q == 0 and not closed do notempty:wait() end
            if #q == 0 then break end
            local v = table.remove(q, 1)
            if v % 7 == 0 then spin() end  -- preempted, the mutex held
            notfull:signal()
            mu:unlock()
            got[c][#got[c] + 1] = v
            mu:lock()
          end
          mu:unlock()
          consumers:done()
        end)
      end
      gang(3, function(p)
        for i = 1, 20 do
          mu:lock()
          while #q == cap do notfull:wait() end
          q[#q + 1] = p * 100 + i
          if #q > maxlen then maxlen = #q end
          notempty:signal()
          mu:unlock()
        end
      end)
      mu:lock()
      closed = true
      notempty:broadcast()
      mu:unlock()
      consumers:wait()
      return got, maxlen, goro.stats().preempts - p0
    end)
    local all = {}
    for _, list in ipairs(got) do
      for _, v in ipairs(list) do all[#all + 1] = v end
    end
    table.sort(all)
    local want = {}
    for p = 1, 3 do for i = 1, 20 do want[#want + 1] = p * 100 + i end end
    assert.are.same(want, all)
    assert.is_true(maxlen <= 3)
    assert.is_true(preempts > 0)
  end)

  it("signal wakes the longest waiter, broadcast every one, each with the mutex held again", function()
    local log = goro.run(function()
      local mu, log = goro.mutex(), {}
      local c = goro.cond(mu)
      for i = 1, 4 do
        goro.go(function()
          mu:lock()
          c:wait()
          log[#log + 1] = i .. (mu:trylock() and " unlocked" or " locked")
          mu:unlock()
        end)
      end
      goro.yield()
      assert(mu:trylock(), "wait unlocked the mutex")
      mu:unlock()
      c:signal()
      goro.yield()            -- 1 wakes and takes the free mutex
      mu:lock()
      c:signal()
      goro.yield()            -- 2 wakes and waits for the mutex
      log[#log + 1] = "main unlocks"
      mu:unlock()
      goro.yield()
      log[#log + 1] = "broadcast"
      c:broadcast()
      goro.yield()
      return table.concat(log, ", ")
    end)
    assert.are.equal("1 locked, main unlocks, 2 locked, broadcast, 3 locked, 4 locked", log)
  end)

  it("gives its mutex back with locker()", function()
    local mu = goro.mutex()
    assert.are.equal(mu, goro.cond(mu):locker())
  end)

  it("raises 'sync: unlock of unlocked mutex' when waiting without the lock", function()
    local c = goro.cond(goro.mutex())
    assert.matches("sync: unlock of unlocked mutex", h.errmsg(goro.run, function() c:wait() end))
  end)

  it("raises before unlocking when it may not park (a finalizer)", function()
    local msg, held = goro.run(function()
      local mu, msg = goro.mutex(), nil
      local c = goro.cond(mu)
      mu:lock()
      setmetatable({}, {__gc = function() msg = select(2, pcall(c.wait, c)) end})
      collectgarbage()
      collectgarbage()
      return msg, not mu:trylock()
    end)
    assert.matches("goro: wait would block inside a __gc finalizer", msg, 1, true)
    assert.is_true(held)
  end)

  it("gives clear errors for bad arguments", function()
    assert.matches("bad argument #1 to 'goro.cond' %(goro.mutex expected, got no value%)",
      h.errmsg(goro.cond))
    assert.matches("bad argument #1 to 'goro.cond' %(goro.mutex expected, got goro.rwmutex%)",
      h.errmsg(goro.cond, goro.rwmutex()))
    local c = goro.cond(goro.mutex())
    assert.matches("bad argument #1 to 'signal' %(goro.cond expected, got table%)",
      h.errmsg(function() c.signal({}) end))
  end)
end)

describe("goro.semaphore(n)", function()
  it_spinning("never lets more than n hold it, under preemption", function()
    local iv, preempts = goro.run(function()
      local sem, iv = goro.semaphore(3), {}
      local p0 = goro.stats().preempts
      gang(8, function(i)
        local k = i % 2 + 1
        sem:acquire(k)
        local from = goro.now()
        spin()
        for _ = 1, k do iv[#iv + 1] = {from, goro.now()} end
        sem:release(k)
      end)
      return iv, goro.stats().preempts - p0
    end)
    local _, most = overlaps(iv)
    assert.are.equal(12, #iv)
    assert.is_true(most <= 3, "at most 3 tokens held at once, saw " .. most)
    assert.is_true(most >= 2, "tokens were held together")
    assert.is_true(preempts > 0)
  end)

  it("serves waiters in order: a large one at the head holds back smaller ones", function()
    local log = goro.run(function()
      local sem, log = goro.semaphore(4), {}
      sem:acquire(4)
      gang(1, function()
        goro.go(function() sem:acquire(3); log[#log + 1] = "big" end)
        goro.yield()
        sem:release(1)         -- 1 free: not enough for the big one
        goro.go(function() sem:acquire(1); log[#log + 1] = "small" end)
        goro.yield()           -- the small one fits, but waits its turn
        log[#log + 1] = "try " .. tostring(sem:try_acquire(1))
        sem:release(2)         -- 3 free: the big one
        goro.yield()
        log[#log + 1] = "released 2"
        sem:release(1)         -- then the small one
        goro.yield()
      end)
      return table.concat(log, ", ")
    end)
    assert.are.equal("try false, big, released 2, small", log)
  end)

  it("try_acquire takes only what is free", function()
    local sem = goro.semaphore(2)
    assert.is_true(sem:try_acquire())
    assert.is_false(sem:try_acquire(2))
    assert.is_true(sem:try_acquire(1))
    assert.is_false(sem:try_acquire())
    assert.is_true(sem:try_acquire(0))
    sem:release(2)
    assert.is_false(sem:try_acquire(3), "more than its size")
  end)

  it("raises 'semaphore: released more than held', changing nothing", function()
    local sem = goro.semaphore(3)
    assert.matches("semaphore: released more than held", h.errmsg(sem.release, sem))
    sem:acquire(2)
    assert.matches("semaphore: released more than held", h.errmsg(sem.release, sem, 3))
    assert.is_true(sem:try_acquire(1))
    assert.is_false(sem:try_acquire(1))
  end)

  it("raises on an acquire larger than its size, which could never succeed", function()
    local sem = goro.semaphore(3)
    assert.matches("semaphore: acquire of 4 exceeds the size 3: it could never succeed",
      h.errmsg(sem.acquire, sem, 4), 1, true)
    assert.is_true(sem:try_acquire(3), "it changed nothing")
  end)

  it("gives clear errors for bad arguments", function()
    assert.matches("bad argument #1 to 'goro.semaphore' %(number expected, got no value%)",
      h.errmsg(goro.semaphore))
    assert.matches("bad argument #1 to 'goro.semaphore' %(negative size%)",
      h.errmsg(goro.semaphore, -1))
    local sem = goro.semaphore(1)
    assert.matches("bad argument #1 to 'acquire' %(negative weight%)",
      h.errmsg(function() sem:acquire(-1) end))
    assert.matches("bad argument #1 to 'release' %(number has no integer representation%)",
      h.errmsg(function() sem:release(0.5) end))
    assert.matches("bad argument #2 to 'acquire' %(goro.context expected, got table%)",
      h.errmsg(function() sem:acquire(1, {}) end))
  end)

  it("leaves no waiter behind when it may not park (a finalizer)", function()
    local msg, free = goro.run(function()
      local sem, msg = goro.semaphore(1), nil
      sem:acquire()
      setmetatable({}, {__gc = function() msg = select(2, pcall(sem.acquire, sem)) end})
      collectgarbage()
      collectgarbage()
      sem:release()
      return msg, sem:try_acquire()
    end)
    assert.matches("goro: acquire would block inside a __gc finalizer", msg, 1, true)
    assert.is_true(free)
  end)
end)

-- A blocker makes fresh objects and returns (block, unblock): block parks
-- the calling G until unblock, run by another G, lets it go.
local blockers = {
  rlock = function()
    local rw = goro.rwmutex()
    rw:lock()
    return function() rw:rlock(); rw:runlock() end, function() rw:unlock() end
  end,
  lock = function()
    local rw = goro.rwmutex()
    rw:rlock()
    return function() rw:lock(); rw:unlock() end, function() rw:runlock() end
  end,
  once = function()
    local once, gate = goro.once(), goro.chan()
    goro.go(function() once:call(gate.recv, gate) end)
    return function() once:call(error) end, function() gate:send(1) end
  end,
  cond = function()
    local mu = goro.mutex()
    local c = goro.cond(mu)
    return function() mu:lock(); c:wait(); mu:unlock() end,
      function() mu:lock(); c:signal(); goro.yield(); mu:unlock() end  -- it relocks parked
  end,
  acquire = function()
    local sem = goro.semaphore(2)
    sem:acquire(2)
    return function() sem:acquire(2); sem:release(2) end, function() sem:release(2) end
  end,
}

describe("every blocking call here", function()
  it("parks stackfully inside a table.sort comparator and shows its reason in the dump", function()
    local got = goro.run(function()
      local got = {}
      for name, make in pairs(blockers) do
        local block, unblock = make()
        local g = goro.go(function()
          table.sort({2, 1}, function(a, b) block(); return a < b end)
          return "sorted"
        end)
        goro.yield()
        goro.yield()
        local d = goro.dump():match("goroutine " .. g.id .. " %[(.-)\n\n")
        got[name] = {d:match("^[^,]+"), d:find("in function 'table.sort'", 1, true) ~= nil}
        unblock()
        got[name][3] = select(2, g:wait())
      end
      return got
    end)
    assert.are.same({
      rlock = {"rwmutex rlock", true, "sorted"},
      lock = {"rwmutex lock", true, "sorted"},
      once = {"once", true, "sorted"},
      cond = {"cond wait", true, "sorted"},
      acquire = {"semaphore acquire", true, "sorted"},
    }, got)
  end)
end)
