-- goro.busted: run busted tests as goroutines.
--
--   local goro_it = require "goro.busted"
--   it("talks over a channel", goro_it(function()
--     local ch = goro.chan()
--     goro.go(function() ch:send(42) end)
--     assert.are.equal(42, (ch:recv()))
--   end))
--
-- The body runs as the main G of a fresh goro.run. What busted reports:
--
--   * a failed assertion in any G (luassert's, or busted's fail()): a
--     failure, whose message starts with the assertion's file:line;
--   * a deadlock or a timeout (default 10 s; goro_it({timeout = s}, f)):
--     a failure, whose message starts with the file:line of the goro_it
--     call, that is the spec's;
--   * any other error: an error, as busted reports one outside goro.
--
-- A failure's message then lists every G (goro.dump()) and, for an
-- assertion in another G than the main one, that G's traceback; with
-- goro_it({dump = false}, f) it says the failure alone.
--
-- goro_it({synctest = true}, f) runs the body in a goro.synctest bubble:
-- its sleeps, timers, tickers and context deadlines take no real time
-- (a spec of a 30 s timeout runs in milliseconds), and a deadlock inside
-- the bubble is a failure whose message starts with the spec's file:line
-- and lists the bubble's G's. The timeout stays real time.
local goro = require "goro"

-- busted's own fail(), which raises its failure type, when busted runs
-- us: `require "busted"` gives its API once the runner has set it up.
local function busted_fail()
  local b = package.loaded.busted
  if type(b) ~= "table" then return nil end
  local ok, fail = pcall(function() return b.fail end)
  return ok and type(fail) == "function" and fail or nil
end

-- Is v busted's failure (what a failed luassert assertion raises)?
local function is_failure(v)
  local mt = debug.getmetatable(v)
  return type(mt) == "table" and rawget(mt, "__type") == "failure"
end

-- Raise v (a message or an error value) from a frame that busted takes
-- for the spec's line. busted records where a failure or an error was
-- raised (its trace: verbose and JSON output) from the first frame that
-- is neither C nor its own nor luassert's. The spec's frames are not on
-- this stack (they ran on the G's), so the raise goes through a one-line
-- chunk named after the spec file, placed on that line. A message is
-- raised through busted's fail() when asked (as a failure, with no
-- position added: it starts with the spec's); outside busted there is no
-- failure type, and it is a plain error.
local function raise(v, asfailure, source, line)
  local throw = asfailure and busted_fail() or error
  if source and line and line > 0 then
    local chunk = load(("\n"):rep(line - 1) .. "local throw, v = ...; throw(v, 0)",
                       source, "t", {})
    if chunk then chunk(throw, v) end
  end
  throw(v, 0)
end

-- The file and line an error message starts with ("goroutine N: " aside).
local function position(msg)
  if type(msg) ~= "string" then return nil end
  local file, line = msg:gsub("^goroutine %d+: ", "", 1):match("^([^\n]-):(%d+): ")
  return file and "@" .. file, tonumber(line)
end

local function goro_it(opts, f)
  local argn = 2
  if f == nil then opts, f, argn = {}, opts, 1 end
  if type(f) ~= "function" then
    error(("bad argument #%d to 'goro_it' (function expected, got %s)")
      :format(argn, type(f)), 2)
  end
  local dump = opts.dump ~= false
  -- Where the spec is: the goro_it call, for a deadlock or a timeout.
  local caller = debug.getinfo(2, "Sl")
  local where = caller and caller.currentline > 0
    and caller.short_src .. ":" .. caller.currentline or "?"
  local source, line = caller and caller.source, caller and caller.currentline
  local body = f
  if opts.synctest then
    body = function(...) return goro.synctest.run(f, ...) end
  end
  return function(...)
    local report
    local runopts = {
      timeout = opts.timeout or 10,
      stack_size = opts.stack_size,
      dump = dump,
      report = function(r) report = r end,
    }
    local res = table.pack(pcall(goro.run, runopts, body, ...))
    if res[1] then return table.unpack(res, 2, res.n) end
    local err = res[2]
    if report == nil then error(err, 0) end  -- goro.run refused to start
    local tail = ""
    if dump and report.dump then
      tail = "\n\nall goroutines at the failure:\n\n" .. report.dump
    end
    local v = report.error
    if report.kind == "error" and type(v) == "string" and
       v:find("^goro%.synctest%.run: deadlock") then
      -- a deadlock in the bubble: as goro.run's, with the bubble's G's
      local first, dumped = v:match("^([^\n]*)\n\n(.*)$")
      raise(where .. ": " .. (first or v)
            .. (dump and dumped and "\n\ngoroutines of the bubble:\n\n" .. dumped or ""),
            true, source, line)
    end
    if report.kind == "error" then
      if not is_failure(v) then raise(err, false, position(err)) end
      local msg = tostring(v)
      if tail == "" then raise(v, false, position(msg)) end  -- as it was raised
      if err ~= v and report.traceback then  -- not the main G
        -- (less the frames of the assertion's machinery)
        local tb = report.traceback:gsub("\n\t[^\n]*[/\\]luassert[/\\][^\n]*", "")
          :gsub("\n\t[^\n]*[/\\]busted[/\\]core%.lua:[^\n]*", "")
          :gsub("\n\t%[C%]: in function 'error'", "", 1)
        tail = ("\n\nin goroutine %d, %s"):format(report.g, tb) .. tail
      end
      raise(msg .. tail, true, position(msg))
    end
    -- a deadlock or a timeout: goro.run's first line, then the dump
    raise(where .. ": " .. tostring(err):match("^[^\n]*") .. tail, true, source, line)
  end
end

return goro_it
