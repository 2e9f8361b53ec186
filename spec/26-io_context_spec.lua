-- The net and io calls that take a context as their last argument
-- (runtime/HACKING.md, "The netpoller", Waits with a context): an ended
-- context wins before anything is tried; one that ends while the call is
-- parked wakes it with nil, ctx:err(), leaving no waiter on the
-- descriptor, on the conn's turn or on the context, and the fd works on.
-- No timing is asserted: timeouts here only say which of two far-apart
-- ends comes first, or catch a hang.
local h = require "spec.helpers"
local goro = h.goro
local C = goro.context

local CANCELED, EXCEEDED = "context canceled", "context deadline exceeded"

-- A context that ends in 20 ms, and one that will not end during a spec.
local function soon() return (C.with_timeout(C.background(), 0.02)) end
local function later() return (C.with_timeout(C.background(), 60)) end

local ended = (function()
  local c, cancel = C.with_cancel(C.background())
  cancel()
  return c
end)()

-- Let g run until it parks. A file's write goes through C piece by piece
-- before it parks, so no count of turns is enough: a G that never parks
-- is caught by the run's timeout (run, below).
local function parked(g)
  while g:status() ~= "waiting" do goro.yield() end
end

local function io_waiters() return goro.stats().io_waiters end

-- Run f as the main G; a hang (a waiter nobody wakes) fails the spec.
local function run(f) return goro.run({timeout = 120, dump = true}, f) end

-- A connected pair over loopback TCP, and the listener.
local function pair()
  local l = assert(goro.net.listen("tcp", "127.0.0.1:0"))
  local c = assert(goro.net.dial("tcp", l:addr(), 5))
  local s = assert(l:accept(5))
  return c, s, l
end

-- call(ctx) in a G until it parks, then ctx is cancelled: what g:wait()
-- returns.
local function cancel_parked(call)
  local ctx, cancel = C.with_cancel(C.background())
  local g = goro.go(function() return call(ctx) end)
  parked(g)
  cancel()
  return g:wait()
end

-- f(c, s, l) as the main G with a fresh pair, closed after.
local function on_pair(f)
  return run(function()
    local c, s, l = pair()
    f(c, s, l)
    c:close(); s:close(); l:close()
  end)
end

-- call(ctx) in a G, which wake() (its I/O) makes return; the G then
-- parks on a channel of its own and ctx is cancelled: a waiter of the
-- call left on the context's done channel would wake the G (or touch a
-- freed waiter). Returns the call's results, packed.
local function call_then_cancel(call, wake)
  local ctx, cancel = C.with_cancel(C.background())
  local res, hold = goro.chan(), goro.chan()
  local g = goro.go(function()
    res:send(table.pack(call(ctx)))
    hold:recv()
  end)
  parked(g)
  wake()
  local r = res:recv()
  parked(g)
  cancel()
  goro.yield()
  assert.equal("waiting", g:status(),
    "the context's end readied the G: a waiter was left on its done channel")
  hold:send(true)
  assert.is_true((g:wait()))
  return r
end

describe("goro.net calls with a context", function()
  it("l:accept(timeout, ctx): cancel from another G, then the listener works", function()
    run(function()
      local l = assert(goro.net.listen("tcp", "127.0.0.1:0"))
      local ctx, cancel = C.with_cancel(C.background())
      local g = goro.go(function() return l:accept(nil, ctx) end)
      parked(g)
      assert.equal(1, io_waiters())
      assert.matches("IO wait, [%d.]+s, fd %d+ read", goro.dump())
      cancel()
      assert.same({true, nil, CANCELED}, {g:wait()})
      assert.equal(0, io_waiters())
      assert.same({nil, CANCELED}, {l:accept(30, ctx)}, "an ended context wins at once")
      local c = assert(goro.net.dial("tcp", l:addr(), 5))
      local s = assert(l:accept(30, later()), "the listener accepts after")
      assert.equal(0, io_waiters())
      c:close(); s:close(); l:close()
    end)
  end)

  it("l:accept: a context's deadline and the accept's own timeout, whichever first", function()
    run(function()
      local l = assert(goro.net.listen("tcp", "127.0.0.1:0"))
      assert.same({nil, EXCEEDED}, {l:accept(60, soon())})
      assert.same({nil, "i/o timeout"}, {l:accept(0.02, later())})
      assert.equal(0, io_waiters())
      l:close()
    end)
  end)

  it("l:accept: its own timeout that fires just before the context's deadline wins", function()
    run(function()
      -- Both timers come due while the main G holds the P, so they fire in
      -- one batch, the accept's first: the context's end then finds the G
      -- claimed by its timer and must not ready it a second time.
      local l = assert(goro.net.listen("tcp", "127.0.0.1:0"))
      local d = goro.now() + 0.02
      local ctx = C.with_deadline(C.background(), d + 0.0002)
      local g = goro.go(function() return l:accept(d - goro.now(), ctx) end)
      parked(g)
      while goro.now() < d + 0.05 do end  -- (no yield: hold the P past both)
      assert.same({true, nil, "i/o timeout"}, {g:wait()})
      assert.equal(EXCEEDED, ctx:err())
      assert.equal(0, io_waiters())
      l:close()
    end)
  end)

  it("conn:read(max, ctx): an ended context consumes nothing; cancel while parked", function()
    on_pair(function(c, s, l)
      s:write("ab")
      assert.same({nil, CANCELED}, {c:read(nil, ended)})
      assert.equal("ab", c:read(nil, later()), "the data waited")
      assert.same({true, nil, CANCELED},
                  {cancel_parked(function(ctx) return c:read(nil, ctx) end)})
      assert.equal(0, io_waiters())
      s:write("cd")
      assert.equal("cd", c:read(), "the conn reads on")
    end)
  end)

  it("conn:read_line and read_exact keep what they buffered when the context ends", function()
    on_pair(function(c, s, l)
      s:write("par")
      assert.same({nil, EXCEEDED}, {c:read_line(nil, soon())})
      s:write("tial\nxy")
      assert.equal("partial", c:read_line(nil, later()))
      assert.same({nil, EXCEEDED}, {c:read_exact(4, soon())})
      s:write("zw")
      assert.equal("xyzw", c:read_exact(4))
      assert.equal(0, io_waiters())
    end)
  end)

  it("a read that gets its data leaves no waiter on the context", function()
    on_pair(function(c, s, l)
      local r = call_then_cancel(function(ctx) return c:read(nil, ctx) end,
                                 function() s:write("x") end)
      assert.same({n = 1, "x"}, r)
      assert.equal(0, io_waiters())
    end)
  end)

  it("the conn's read deadline and the context's: whichever comes first, with its own text", function()
    on_pair(function(c, s, l)
      c:set_read_deadline(goro.now() + 0.02)
      assert.same({nil, "i/o timeout"}, {c:read(nil, later())})
      c:set_read_deadline(goro.now() + 60)
      assert.same({nil, EXCEEDED}, {c:read(nil, soon())})
      assert.equal(0, io_waiters())
      c:set_read_deadline(nil)
      s:write("ok")
      assert.equal("ok", c:read(nil, later()))
      assert.equal(0, goro.stats().io_waiters)
    end)
  end)

  it("a context that ends while a G waits for its turn to read gives up the turn it never had", function()
    on_pair(function(c, s, l)
      local first = goro.go(function() return c:read() end)
      parked(first)
      local ctx, cancel = C.with_cancel(C.background())
      local second = goro.go(function() return c:read(nil, ctx) end)
      parked(second)
      assert.matches("IO wait %(turn%)", goro.dump())
      cancel()
      assert.same({true, nil, CANCELED}, {second:wait()})
      s:write("1")
      assert.same({true, "1"}, {first:wait()})
      s:write("2")
      assert.equal("2", c:read(nil, later()), "the turn was not left taken")
    end)
  end)

  it("a reader whose context ends hands its turn to the next reader", function()
    on_pair(function(c, s, l)
      local ctx, cancel = C.with_cancel(C.background())
      local first = goro.go(function() return c:read(nil, ctx) end)
      parked(first)
      local second = goro.go(function() return c:read() end)
      parked(second)
      cancel()
      assert.same({true, nil, CANCELED}, {first:wait()})
      s:write("x")
      assert.same({true, "x"}, {second:wait()})
      assert.equal(0, io_waiters())
    end)
  end)

  it("conn:write(s, ctx): nil, err, written; what it wrote arrives, and writes go on", function()
    on_pair(function(c, s, l)
      local big = string.rep("w", 32 * 1024 * 1024)  -- more than the buffers hold
      local ctx, cancel = C.with_cancel(C.background())
      local g = goro.go(function() return c:write(big, ctx) end)
      parked(g)
      cancel()
      local ok, n, err, written = g:wait()
      assert.is_true(ok)
      assert.same({nil, CANCELED}, {n, err})
      assert.is_true(written > 0 and written < #big)
      assert.equal(0, io_waiters())
      assert.same({nil, CANCELED, 0}, {c:write("x", ended)})
      local reader = goro.go(function()
        local got = 0
        while true do
          local d = assert(s:read(65536))
          got = got + #d
          if d:sub(-3) == "end" then return got end
        end
      end)
      assert.equal(3, c:write("end", later()))
      assert.same({true, written + 3}, {reader:wait()})
    end)
  end)

  it("goro.net.dial(network, address, timeout, ctx) to a full backlog", function()
    run(function()
      local l = assert(goro.net.listen("tcp", "127.0.0.1:0", {backlog = 0}))
      local held, blocked = {}, false
      for _ = 1, 32 do  -- until the accept queue is full: a connect then stays in progress
        local ctx, cancel = C.with_cancel(C.background())
        local g = goro.go(function() return goro.net.dial("tcp", l:addr(), nil, ctx) end)
        for _ = 1, 200 do
          if g:status() ~= "runnable" and g:status() ~= "running" then break end
          goro.yield()
        end
        if g:status() == "waiting" and io_waiters() == 1 then
          local fds = goro.stats().io_fds
          cancel()
          assert.same({true, nil, CANCELED}, {g:wait()})
          assert.equal(fds - 1, goro.stats().io_fds, "the dial's socket was closed")
          blocked = true
          break
        end
        local _, c = g:wait()
        held[#held + 1] = assert(c)
      end
      assert.is_true(blocked, "no dial blocked on the full backlog")
      assert.equal(0, io_waiters())
      assert.same({nil, CANCELED}, {goro.net.dial("tcp", l:addr(), 5, ended)})
      for _, c in ipairs(held) do c:close() end
      l:close()
    end)
  end)

  it("pc:read_from(max, ctx), then the packet conn reads on", function()
    run(function()
      local a = assert(goro.net.listen_packet("udp", "127.0.0.1:0"))
      local b = assert(goro.net.listen_packet("udp", "127.0.0.1:0"))
      assert.same({true, nil, CANCELED},
                  {cancel_parked(function(ctx) return a:read_from(nil, ctx) end)})
      assert.equal(0, io_waiters())
      assert.same({nil, CANCELED}, {b:write_to("p", a:local_addr(), ended)})
      assert.equal(1, b:write_to("p", a:local_addr(), later()))
      assert.equal("p", (a:read_from(nil, later())))
      a:close(); b:close()
    end)
  end)

  it("in a synctest bubble, a cancel wakes a G parked on I/O", function()
    run(function()
      goro.synctest.run(function()
        local c, s, l = pair()
        assert.same({true, nil, CANCELED},
                    {cancel_parked(function(ctx) return c:read(nil, ctx) end)})
        assert.equal(0, io_waiters())
        s:write("after")
        assert.equal("after", c:read(nil, C.background()))
        c:close(); s:close(); l:close()
      end)
    end)
  end)

  it("raises 'bad argument' for anything else in the context's place", function()
    on_pair(function(c, s, l)
      assert.matches("bad argument #2 to 'read' %(goro.context expected, got number%)",
        h.errmsg(function() return c:read(nil, 5) end))
      assert.matches("bad argument #2 to 'write' %(goro.context expected, got table%)",
        h.errmsg(function() return c:write("x", {}) end))
      assert.matches("bad argument #2 to 'accept' %(goro.context expected, got string%)",
        h.errmsg(function() return l:accept(nil, "ctx") end))
      assert.matches("bad argument #4 to 'dial' %(goro.context expected, got boolean%)",
        h.errmsg(function() return goro.net.dial("tcp", l:addr(), nil, true) end))
      assert.matches("bad argument #3 to 'wait_readable' %(goro.context expected, got number%)",
        h.errmsg(function() return goro.wait_readable(c:fd(), nil, 1) end))
      assert.equal(0, io_waiters())
    end)
  end)
end)

describe("goro.wait_readable and wait_writable with a context", function()
  it("wait_readable(fd, timeout, ctx): cancel, deadline, and readiness after", function()
    on_pair(function(c, s, l)
      local fd = c:fd()
      assert.same({nil, CANCELED}, {goro.wait_readable(fd, nil, ended)})
      local ctx, cancel = C.with_cancel(C.background())
      local g = goro.go(function() return goro.wait_readable(fd, nil, ctx) end)
      parked(g)
      assert.equal(1, io_waiters())
      cancel()
      assert.same({true, nil, CANCELED}, {g:wait()})
      assert.equal(0, io_waiters())
      assert.same({nil, EXCEEDED}, {goro.wait_readable(fd, 60, soon())})
      assert.same({nil, "i/o timeout"}, {goro.wait_readable(fd, 0.02, later())})
      assert.equal(0, io_waiters())
      local r = call_then_cancel(function(ctx) return goro.wait_readable(fd, nil, ctx) end,
                                 function() s:write("r") end)
      assert.same({n = 1, true}, r)
      assert.equal(0, io_waiters())
      assert.equal("r", c:read(nil, later()))
    end)
  end)
end)

describe("goro.io files with a context", function()
  local path
  before_each(function()
    path = os.tmpname()
    os.remove(path)
    assert(os.execute("mkfifo " .. path))
  end)
  after_each(function() os.remove(path) end)

  -- Both ends of the FIFO at path (each open waits in C for the other:
  -- the writer's runs in a G of its own).
  local function fifo()
    local wg = goro.go(function() return assert(goro.io.open(path, "w")) end)
    local r = assert(goro.io.open(path, "r"))
    local _, w = wg:wait()
    return r, w
  end

  it("f:read(fmt, ctx): an ended context, cancel while parked, and the pipe reads on", function()
    run(function()
      local r, w = fifo()
      w:write("zero\none\n")
      assert.equal("zero", r:read("l"))
      assert.same({nil, CANCELED}, {r:read("l", ended)},
        "an ended context wins over a line in the buffer")
      assert.equal("one", r:read("l", later()), "the line waited")
      local ctx, cancel = C.with_cancel(C.background())
      local g = goro.go(function() return r:read(ctx) end)  -- ("l", as Lua's read())
      parked(g)
      assert.equal(1, io_waiters())
      assert.matches("IO wait, [%d.]+s, fd %d+ read", goro.dump())
      cancel()
      assert.same({true, nil, CANCELED}, {g:wait()})
      assert.equal(0, io_waiters())
      w:write("two\n")
      assert.equal("two", r:read())
      r:close(); w:close()
    end)
  end)

  it("a read the context ends keeps what it had read for the next read", function()
    run(function()
      local r, w = fifo()
      w:write("par")
      assert.same({nil, EXCEEDED}, {r:read("l", soon())})
      w:write("tial\nxy")
      assert.equal("partial", r:read("l", later()))
      assert.same({nil, EXCEEDED}, {r:read(4, soon())})
      w:write("zw")
      assert.equal("xyzw", r:read(4))
      w:write("rest")
      assert.same({nil, EXCEEDED}, {r:read("a", soon())})
      w:close()
      assert.equal("rest", r:read("a", later()))
      assert.equal(0, io_waiters())
      r:close()
    end)
  end)

  it("a read that gets its data leaves no waiter on the context", function()
    run(function()
      local r, w = fifo()
      local got = call_then_cancel(function(ctx) return r:read("l", ctx) end,
                                   function() w:write("x\n") end)
      assert.same({n = 1, "x"}, got)
      assert.equal(0, io_waiters())
      r:close(); w:close()
    end)
  end)

  it("f:write(s, ctx) to a full pipe: cancel, then writes and reads go on", function()
    run(function()
      local r, w = fifo()
      assert.same({true, nil, CANCELED},
                  {cancel_parked(function(ctx) return w:write(string.rep("w", 1024 * 1024), ctx) end)})
      assert.equal(0, io_waiters())
      assert.same({nil, CANCELED}, {w:write("x", ended)})
      local reader = goro.go(function() return r:read("l") end)
      assert.equal(w, w:write("END\n", later()))
      local ok, data = reader:wait()
      assert.is_true(ok)
      assert.matches("^w+END$", data)
      r:close(); w:close()
    end)
  end)

  it("a regular file is always ready: the context only ends a call before it starts", function()
    run(function()
      local f = assert(goro.io.open(path .. ".reg", "w+"))
      assert.equal(f, f:write("a\nb\n", later()))
      f:seek("set")
      assert.equal("a", f:read("l", later()))
      assert.same({nil, CANCELED}, {f:read("l", ended)})
      assert.same({"b", nil}, {f:read("l", "l", later())})
      local lines = {}
      f:seek("set")
      for l in f:lines("l", later()) do lines[#lines + 1] = l end
      assert.same({"a", "b"}, lines)
      assert.equal(0, io_waiters())
      f:close()
      os.remove(path .. ".reg")
    end)
  end)
end)
