-- goro.busted: run busted tests as goroutines.
--
--   local goro_it = require "goro.busted"
--   it("talks over a channel", goro_it(function()
--     local ch = goro.chan()
--     goro.go(function() ch:send(42) end)
--     assert.are.equal(42, ch:recv())
--   end))
--
-- The body runs as the main G of a fresh goro.run. A deadlock, a timeout
-- (default 10 s; goro_it({timeout = s}, f) to change it) or an error in any
-- G fails the test, and the failure message lists every G (goro.dump()).
local goro = require "goro"

local function goro_it(opts, f)
  local argn = 2
  if f == nil then opts, f, argn = {}, opts, 1 end
  if type(f) ~= "function" then
    error(("bad argument #%d to 'goro_it' (function expected, got %s)")
      :format(argn, type(f)), 2)
  end
  local runopts = {
    timeout = opts.timeout or 10,
    stack_size = opts.stack_size,
    dump = true,
  }
  return function(...)
    return goro.run(runopts, f, ...)
  end
end

return goro_it
