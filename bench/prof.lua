-- bench/prof.lua: what the CPU profiler costs a CPU-bound Lua program.
--
-- The same goro.run (4 G's computing fib, with channel traffic) is timed
-- with and without goro.profile at 100 Hz, in alternating rounds; each
-- figure is the best of 7 rounds (CPU seconds of the process). The anchor
-- is the unprofiled run; the goal is a ratio of at most 1.03.
-- A benchmark, not a test: nothing here asserts a time.
local goro = require "goro"

local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end

local function workload()
  goro.run(function()
    local ch, wg = goro.chan(), goro.waitgroup()
    for _ = 1, 4 do
      wg:add(1)
      goro.go(function()
        for n in ch:iter() do fib(n) end
        wg:done()
      end)
    end
    for i = 1, 24 do ch:send(24 + i % 4) end
    ch:close()
    wg:wait()
  end)
end

local path = os.tmpname()
local function round(profiled)
  local t0 = os.clock()
  if profiled then goro.profile.start { hz = 100, path = path, format = "folded" } end
  workload()
  if profiled then goro.profile.stop() end
  return os.clock() - t0
end

workload()  -- warm up
local best = { [false] = math.huge, [true] = math.huge }
for _ = 1, 11 do
  for _, p in ipairs { false, true } do
    local t = round(p)
    if t < best[p] then best[p] = t end
  end
end
local s = goro.profile.summary()
os.remove(path)
local srcdir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
print(("goro profiler overhead (%s)"):format(dofile(srcdir .. "/cpu.lua")))
print(("profiler  %-28s %9.1f ms   unprofiled %9.1f ms   ratio %.3f (goal <= 1.03)")
  :format("100 Hz, 4 G's computing fib", best[true] * 1e3, best[false] * 1e3,
          best[true] / best[false]))
print(("          last profile: %d samples in %.2f s, %d lost"):format(s.samples, s.seconds, s.lost))
