-- examples/pipeline.lua: a concurrent pipeline in goroutines.
--
--   producer --jobs--> 4 workers --results--> collector
--                         |  each job has a deadline (select + goro.after)
--   reporter: a ticker prints progress; `done` (closed) stops everyone.
--
-- Run: scripts/demo   (or lua5.4 examples/pipeline.lua with LUA_PATH and
-- LUA_CPATH pointing at lua/ and build/lua/).
local goro = require "goro"

local NJOBS, NWORKERS, DEADLINE = 60, 4, 0.012

local function isprime(n)
  if n < 2 then return false end
  for d = 2, math.floor(math.sqrt(n)) do
    if n % d == 0 then return false end
  end
  return true
end

-- Simulated work: some "I/O" (a sleep of 2-20 ms), then some CPU. Jobs that
-- sleep past the deadline are given up on.
local function work(job)
  goro.sleep(job.io)
  local primes = 0
  for n = job.from, job.from + 2000 do
    if isprime(n) then primes = primes + 1 end
  end
  return primes
end

local function main()
  local t0 = goro.now()
  local jobs, results, done = goro.chan(8), goro.chan(), goro.chan()
  local stats = {produced = 0, finished = 0, timedout = 0, primes = 0, byworker = {}}

  goro.go(function()                                  -- producer
    local rng = 42
    for i = 1, NJOBS do
      rng = (rng * 1103515245 + 12345) % 2^31
      jobs:send({id = i, from = i * 1000, io = 0.002 + (rng % 19) / 1000})
      stats.produced = stats.produced + 1
    end
    jobs:close()
  end)

  local wg = goro.waitgroup()
  for w = 1, NWORKERS do                              -- workers
    wg:add(1)
    stats.byworker[w] = 0
    goro.go(function()
      for job in jobs:iter() do
        local reply = goro.chan(1)
        goro.go(function() reply:send(work(job)) end)
        local i, primes = goro.select(reply:case_recv(), goro.after(DEADLINE):case_recv())
        if i == 1 then
          results:send({job = job.id, worker = w, primes = primes})
        else
          results:send({job = job.id, worker = w, timeout = true})
        end
      end
      wg:done()
    end)
  end
  goro.go(function() wg:wait(); results:close() end)

  goro.go(function()                                  -- reporter
    local t = goro.ticker(0.05)
    while true do
      local i = goro.select(done:case_recv(), t.ch:case_recv())
      if i == 1 then t:stop(); return end
      local s = goro.stats()
      print(("  t=%4.0f ms  produced %2d  finished %2d  timed out %2d  G's %3d  stacks %d")
        :format((goro.now() - t0) * 1000, stats.produced, stats.finished,
          stats.timedout, s.gs, s.stacks))
    end
  end)

  for r in results:iter() do                          -- collector
    if r.timeout then
      stats.timedout = stats.timedout + 1
    else
      stats.finished = stats.finished + 1
      stats.primes = stats.primes + r.primes
      stats.byworker[r.worker] = stats.byworker[r.worker] + 1
    end
  end
  done:close()
  goro.yield()
  stats.elapsed = goro.now() - t0
  return stats
end

print(("goro pipeline demo: %d jobs, %d workers, %.0f ms deadline per job")
  :format(NJOBS, NWORKERS, DEADLINE * 1000))
local s = goro.run(main)
print(("done in %.0f ms: %d jobs produced, %d finished, %d timed out, %d primes found")
  :format(s.elapsed * 1000, s.produced, s.finished, s.timedout, s.primes))
print("jobs finished per worker: " .. table.concat(s.byworker, ", "))
local st = goro.stats()
print(("after the run: %d G's, %d stacks in use; %d stackless and %d stackful parks so far")
  :format(st.gs, st.stacks, st.stackless_parks, st.stackful_parks))
assert(s.finished + s.timedout == NJOBS, "every job is accounted for")
