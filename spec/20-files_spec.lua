-- goro.io: files with Lua's methods, whose blocking calls hold up only
-- their G (they go through goro_cgocall).
local h = require "spec.helpers"
local goro = h.goro

local CONTENT = "12 0x1F -3.5e2 .5 1e nope\nline two\r\n\nlast"

local function exercise(open, path)
  local r = {}
  local f = assert(open(path))
  local function add(...) for i = 1, select("#", ...) do r[#r + 1] = tostring((select(i, ...))) end end
  add(f:read("n", "n", "n", "n"))
  add(f:read("n"))               -- "1e" is not a numeral: fail
  add(f:read("l", "L", "l"))
  add(f:read(2), f:read(0), f:read("a"), f:read("a"), f:read(0), f:read(1))
  add(f:seek("set", 3), f:read(4), f:seek("cur"), f:seek("end"))
  f:seek("set")
  for l in f:lines() do add(l) end
  f:seek("set")
  for a, b in f:lines(1, 2) do add(a, b) break end
  f:close()
  add(pcall(f.read, f))
  return table.concat(r, "|")
end

describe("goro.io files", function()
  local path
  before_each(function()
    path = os.tmpname()
    local f = io.open(path, "w")
    f:write(CONTENT)
    f:close()
  end)
  after_each(function() os.remove(path) end)

  it("read, lines and seek as Lua's own files do", function()
    local want = exercise(io.open, path):gsub("file %(closed%)", "closed file")
    local got = goro.run(exercise, goro.io.open, path)
    assert.are.equal(want, got)
  end)

  it("write, in every mode, as Lua's own files do", function()
    local function w(open)
      local f = assert(open(path, "w"))
      assert(f:write("a", 1, "b", 2.5) == f)
      f:close()
      f = assert(open(path, "a+"))
      f:write("!")
      f:seek("set")
      local s = f:read("a")
      f:close()
      return s
    end
    assert.are.equal(w(io.open), goro.run(w, goro.io.open))
  end)

  it("fails as io.open does", function()
    local a, b, c = goro.run(function() return goro.io.open("/nonexistent/x") end)
    assert.is_nil(a)
    assert.are.equal("/nonexistent/x: No such file or directory", b)
    assert.are.equal(2, c)
    assert.matches("bad argument #2 to '.*open' %(invalid mode%)",
      h.errmsg(goro.io.open, path, "rw"))
  end)

  it("holds up only its G when a read blocks (a FIFO with no writer yet)", function()
    local fifo = os.tmpname()
    os.remove(fifo)
    assert(os.execute("mkfifo " .. fifo))
    local got, ticks = goro.run(function()
      local ticks, done = 0, false
      goro.go(function() while not done do ticks = ticks + 1; goro.yield() end end)
      goro.go(function()
        goro.sleep(0.05)
        local w = assert(goro.io.open(fifo, "w"))  -- (open waits for the reader)
        w:write("through the fifo\n")
        w:close()
      end)
      local r = assert(goro.io.open(fifo, "r"))  -- blocks in C until a writer
      local line = r:read("l")
      r:close()
      done = true
      return line, ticks
    end)
    os.remove(fifo)
    assert.are.equal("through the fifo", got)
    assert.is_true(ticks > 10, "other G's ran while it waited: " .. ticks)
  end)

  it("has stdin, stdout and stderr, which close refuses", function()
    local r = goro.run(function()
      return {goro.io.stdout:close()}
    end)
    assert.is_nil(r[1])
    assert.are.equal("cannot close standard file", r[2])
  end)
end)
