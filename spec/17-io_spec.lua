-- Waiting on file descriptors parks only the waiting G (a netpoller in
-- the scheduler). The fds here are pipes from goro_testmod.
local h = require "spec.helpers"
local goro = h.goro
local tm = require "goro_testmod"

describe("goro.wait_readable(fd [, timeout])", function()
  it("parks only its G until the fd is readable", function()
    local got, ticks = goro.run(function()
      local r, w = tm.pipe()
      local ticks, done = 0, false
      goro.go(function() while not done do ticks = ticks + 1; goro.yield() end end)
      goro.go(function() goro.sleep(0.02); tm.fd_write(w, "hello") end)
      assert(goro.wait_readable(r))
      done = true
      local s = tm.fd_read(r)
      tm.fd_close(r); tm.fd_close(w)
      return s, ticks
    end)
    assert.are.equal("hello", got)
    assert.is_true(ticks > 10, "other G's ran meanwhile: " .. ticks)
  end)

  it("returns nil, 'i/o timeout' when the timeout comes first", function()
    local ok, err, stats = goro.run(function()
      local r, w = tm.pipe()
      local ok, err = goro.wait_readable(r, 0.02)
      local s = goro.stats()
      tm.fd_close(r); tm.fd_close(w)
      return ok, err, s
    end)
    assert.is_nil(ok)
    assert.are.equal("i/o timeout", err)
    assert.are.equal(0, stats.sleeping, "the timeout's timer is gone")
  end)

  it("returns at once when the fd is already readable", function()
    assert.is_true(goro.run(function()
      local r, w = tm.pipe()
      tm.fd_write(w, "x")
      local ok = goro.wait_readable(r, 0)
      tm.fd_close(r); tm.fd_close(w)
      return ok
    end))
  end)

  it("is woken by a thread goro knows nothing of: no deadlock meanwhile", function()
    local got = goro.run(function()
      local r, w = tm.pipe()
      tm.write_later(w, "from a thread", 0.05)
      assert(goro.wait_readable(r))
      local s = tm.fd_read(r)
      tm.fd_close(r); tm.fd_close(w)
      return s
    end)
    assert.are.equal("from a thread", got)
  end)

  it("works from any depth a G can block at", function()
    local got = goro.run(function()
      local r, w = tm.pipe()
      goro.go(function() goro.sleep(0.01); tm.fd_write(w, "deep") end)
      local seen
      table.sort({3, 1, 2}, function(a, b)  -- a stackful park
        if not seen then assert(goro.wait_readable(r)); seen = tm.fd_read(r) end
        return a < b
      end)
      tm.fd_close(r); tm.fd_close(w)
      return seen
    end)
    assert.are.equal("deep", got)
  end)

  it("lets many G's wait on many fds", function()
    local sum = goro.run(function()
      local wg, sum, fds = goro.waitgroup(), 0, {}
      for i = 1, 50 do
        local r, w = tm.pipe()
        fds[i] = {r, w}
        wg:add(1)
        goro.go(function()
          assert(goro.wait_readable(r, 5))
          sum = sum + tonumber(tm.fd_read(r))
          wg:done()
        end)
      end
      goro.yield()
      for i = 50, 1, -1 do tm.fd_write(fds[i][2], tostring(i)) end
      wg:wait()
      for _, p in ipairs(fds) do tm.fd_close(p[1]); tm.fd_close(p[2]) end
      return sum
    end)
    assert.are.equal(50 * 51 / 2, sum)
  end)

  it("raises outside a goroutine, and for a bad fd", function()
    assert.matches("goro: wait_readable called outside a goroutine",
      h.errmsg(goro.wait_readable, 0))
    assert.matches("bad argument #1 to 'wait_readable'", h.errmsg(goro.run, function()
      goro.wait_readable(-1)
    end))
  end)
end)

describe("goro.wait_writable(fd [, timeout])", function()
  it("is true at once for a pipe with room", function()
    assert.is_true(goro.run(function()
      local r, w = tm.pipe()
      local ok = goro.wait_writable(w)
      tm.fd_close(r); tm.fd_close(w)
      return ok
    end))
  end)

  it("waits while the pipe is full, until a reader makes room", function()
    local wrote = goro.run(function()
      local r, w = tm.pipe()
      local chunk, n = string.rep("x", 4096), 0
      while tm.fd_write(w, chunk) do n = n + 1 end  -- until EAGAIN
      goro.go(function() goro.sleep(0.02); while tm.fd_read(r) do end end)
      assert(goro.wait_writable(w, 5))
      local k = tm.fd_write(w, "more")
      tm.fd_close(r); tm.fd_close(w)
      return k
    end)
    assert.are.equal(4, wrote)
  end)
end)

describe("goro_wait_fd (C modules)", function()
  it("parks only the G, from C, with a timeout", function()
    local r1, r2 = goro.run(function()
      local r, w = tm.pipe()
      goro.go(function() goro.sleep(0.01); tm.fd_write(w, "c") end)
      local a = tm.wait_fd(r, "r", 5)
      local _ = tm.fd_read(r)
      local b, err = tm.wait_fd(r, "r", 0.01)
      tm.fd_close(r); tm.fd_close(w)
      return a, err
    end)
    assert.are.equal(1, r1)  -- GORO_WAIT_READ
    assert.are.equal("i/o timeout", r2)
  end)

  it("polls on the calling thread outside any G", function()
    local r, w = tm.pipe()
    tm.fd_write(w, "x")
    assert.are.equal(1, tm.wait_fd(r, "r", 1))
    tm.fd_close(r); tm.fd_close(w)
  end)
end)
