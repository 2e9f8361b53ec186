-- examples/pipeline.lua: a concurrent pipeline in goroutines.
--
--   producer --jobs--> 4 workers --results--> collector
--                         |  each job has a deadline (a context's timeout)
--   reporter: a ticker prints progress until the collector is done.
--
-- Every G runs in a scope (goro.scope), so none outlives main; cancelling
-- is done with contexts (goro.context), not hand-made `done` channels.
--
-- Run: scripts/demo   (or lua5.4 examples/pipeline.lua with LUA_PATH and
-- LUA_CPATH pointing at lua/ and build/lua/).
local goro = require "goro"
local context = goro.context

local NJOBS, NWORKERS, DEADLINE = 60, 4, 0.012

local function isprime(n)
  if n < 2 then return false end
  for d = 2, math.floor(math.sqrt(n)) do
    if n % d == 0 then return false end
  end
  return true
end

-- Simulated work: some "I/O" (a sleep of 2-20 ms), then some CPU. A job
-- whose context ends during its I/O (its deadline) is given up on: nil, err.
local function work(job, ctx)
  local ok, err = goro.sleep(job.io, ctx)
  if not ok then return nil, err end
  local primes = 0
  for n = job.from, job.from + 2000 do
    if isprime(n) then primes = primes + 1 end
  end
  return primes
end

local function main()
  local t0 = goro.now()
  local jobs, results = goro.chan(8), goro.chan()
  local stats = {produced = 0, finished = 0, timedout = 0, primes = 0, byworker = {}}
  local s <close> = goro.scope()

  s:go(function()                                     -- producer
    local rng = 42
    for i = 1, NJOBS do
      rng = (rng * 1103515245 + 12345) % 2^31
      if not jobs:send({id = i, from = i * 1000, io = 0.002 + (rng % 19) / 1000}, s.ctx) then
        break                                         -- the scope was cancelled
      end
      stats.produced = stats.produced + 1
    end
    jobs:close()
  end)

  local function worker(w)
    for job in jobs:iter() do
      local ctx, cancel = context.with_timeout(s.ctx, DEADLINE)
      local primes = work(job, ctx)
      cancel()                                        -- its timer leaves the heap
      if primes then
        results:send({job = job.id, worker = w, primes = primes})
      else
        results:send({job = job.id, worker = w, timeout = true})
      end
    end
  end
  s:go(function()                                     -- workers, then the end
    do
      local ws <close> = goro.scope(s.ctx)            -- waits for the workers
      for w = 1, NWORKERS do
        stats.byworker[w] = 0
        ws:go(worker, w)
      end
    end
    results:close()
  end)

  local reporting, stop_reporting = context.with_cancel(s.ctx)
  s:go(function()                                     -- reporter
    local t = goro.ticker(0.05)
    while true do
      local i = goro.select(reporting:done():case_recv(), t.ch:case_recv())
      if i == 1 then t:stop(); return end
      local st = goro.stats()
      print(("  t=%4.0f ms  produced %2d  finished %2d  timed out %2d  G's %3d  stacks %d")
        :format((goro.now() - t0) * 1000, stats.produced, stats.finished,
          stats.timedout, st.gs, st.stacks))
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
  stop_reporting()
  assert(s:wait())                                    -- every G of the scope is done
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
