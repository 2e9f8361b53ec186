-- bench/cpu.lua: the CPU model from /proc/cpuinfo ("?" if none), which
-- every benchmark prints beside its figures: ratios move with the CPU.
-- Use: local cpu = dofile(srcdir .. "/cpu.lua")
local f = io.open("/proc/cpuinfo")
local model
if f then
  for line in f:lines() do
    model = line:match("^model name%s*:%s*(.-)%s*$")
    if model then break end
  end
  f:close()
end
return model or "?"
