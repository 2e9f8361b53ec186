-- goro.net: connections whose calls park only their G, with Go's
-- semantics and Lua's nil, err returns.
local h = require "spec.helpers"
local goro = h.goro

-- Everything c sends until EOF, as one string.
local function read_all(c)
  local got = {}
  while true do
    local s = c:read(65536)
    if not s then return table.concat(got) end
    got[#got + 1] = s
  end
end

-- An echo server on a fresh listener: each line comes back upper-cased.
local function echo_server(network, address)
  local l = assert(goro.net.listen(network, address))
  goro.go(function()
    while true do
      local c = l:accept()
      if not c then return end
      goro.go(function()
        while true do
          local line = c:read_line()
          if not line then c:close() return end
          c:write(line:upper() .. "\n")
        end
      end)
    end
  end)
  return l
end

local function fds()
  local pid = io.open("/proc/self/stat"):read("n")
  local n = 0
  for _ in io.popen("ls /proc/" .. pid .. "/fd"):lines() do n = n + 1 end
  return n
end

describe("goro.net streams", function()
  for _, case in ipairs({{"tcp", "127.0.0.1:0"}, {"tcp4", ":0"}, {"unix", "@goro-spec-" .. os.time()}}) do
    it("echo over " .. case[1], function()
      local got = goro.run(function()
        local l = echo_server(case[1], case[2])
        local c = assert(goro.net.dial(case[1], l:addr(), 5))
        local out = {}
        for i = 1, 3 do
          assert(c:write("line " .. i .. "\n"))
          out[i] = assert(c:read_line())
        end
        c:close()
        l:close()
        return table.concat(out, ",")
      end)
      assert.are.equal("LINE 1,LINE 2,LINE 3", got)
    end)
  end

  it("reads as soon as some bytes are there; read_exact and read_line buffer", function()
    local r = goro.run(function()
      local l = assert(goro.net.listen("tcp", "127.0.0.1:0"))
      goro.go(function()
        local c = l:accept()
        c:write("ab")
        goro.sleep(0.02)
        c:write("cdef\r\nsecond\nlast")
        c:close()
      end)
      local c = assert(goro.net.dial("tcp", l:addr()))
      local r = {}
      r[1] = c:read(100)              -- "ab": what is there, not 100 bytes
      r[2] = c:read_exact(2)          -- "cd"
      r[3] = c:read_line()            -- "ef" (without \r\n)
      r[4] = c:read_line()            -- "second"
      r[5] = c:read_line()            -- "last": the last line has no \n
      r[6] = select(2, c:read_line()) -- EOF
      r[7] = select(2, c:read(10))
      c:close(); l:close()
      return r
    end)
    assert.are.same({"ab", "cd", "ef", "second", "last", "EOF", "EOF"}, r)
  end)

  it("writes all of a large string, parking while the kernel buffer is full", function()
    local n, sum = goro.run(function()
      local l = assert(goro.net.listen("tcp", "127.0.0.1:0"))
      local data = {}
      for i = 1, 4 * 1024 * 1024 / 8 do data[i] = string.format("%08d", i % 99999999) end
      data = table.concat(data)
      local done = goro.chan(1)
      goro.go(function()
        local c = l:accept()
        goro.sleep(0.05)  -- let the writer fill the buffers first
        done:send(read_all(c))
      end)
      local c = assert(goro.net.dial("tcp", l:addr()))
      local n = assert(c:write(data))
      c:close()
      local back = done:recv()
      l:close()
      return n, back == data
    end)
    assert.are.equal(4 * 1024 * 1024, n)
    assert.is_true(sum, "every byte arrived, in order")
  end)

  it("times a read out at its deadline, and later reads until it moves", function()
    local r = goro.run(function()
      local l = assert(goro.net.listen("tcp", "127.0.0.1:0"))
      goro.go(function() local c = l:accept(); goro.sleep(0.2); c:write("late\n") end)
      local c = assert(goro.net.dial("tcp", l:addr()))
      local r = {}
      c:set_read_deadline(goro.now() + 0.03)
      r[1] = select(2, c:read())
      r[2] = select(2, c:read())  -- still past it
      c:set_read_deadline(nil)
      r[3] = c:read_line()
      c:close(); l:close()
      return r
    end)
    assert.are.same({"i/o timeout", "i/o timeout", "late"}, r)
  end)

  it("times a write out when the peer never reads", function()
    local err, written = goro.run(function()
      local l = assert(goro.net.listen("tcp", "127.0.0.1:0"))
      local hold
      goro.go(function() hold = l:accept() end)
      local c = assert(goro.net.dial("tcp", l:addr()))
      c:set_write_deadline(goro.now() + 0.05)
      local _, err, written = c:write(string.rep("x", 64 * 1024 * 1024))
      c:close(); l:close()
      return err, written
    end)
    assert.are.equal("i/o timeout", err)
    assert.is_true(written > 0 and written < 64 * 1024 * 1024)
  end)

  it("wakes a G parked on a conn that another G closes", function()
    local err, stats = goro.run(function()
      local l = assert(goro.net.listen("tcp", "127.0.0.1:0"))
      goro.go(function() local c = l:accept(); goro.sleep(1) end)
      local c = assert(goro.net.dial("tcp", l:addr()))
      local got = goro.chan(1)
      goro.go(function() got:send(select(2, c:read())) end)
      goro.sleep(0.01)
      local s = goro.stats()
      c:close()
      local err = got:recv()
      l:close()
      return err, s
    end)
    assert.are.equal("use of closed network connection", err)
    assert.is_true(stats.io_waiters >= 1)
  end)

  it("serializes concurrent writes of one conn: no call is interleaved", function()
    local stream = goro.run(function()
      local l = assert(goro.net.listen("tcp", "127.0.0.1:0"))
      local done = goro.chan(1)
      goro.go(function()
        local c = l:accept()
        goro.sleep(0.05)  -- both writers are parked mid-write by now
        done:send(read_all(c))
      end)
      local c = assert(goro.net.dial("tcp", l:addr()))
      local wg = goro.waitgroup()
      for _, ch in ipairs({"a", "b"}) do
        wg:add(1)
        goro.go(function() assert(c:write(string.rep(ch, 2 * 1024 * 1024))); wg:done() end)
      end
      wg:wait()
      c:close()
      local s = done:recv()
      l:close()
      return s
    end)
    local n = 2 * 1024 * 1024
    assert.are.equal(2 * n, #stream)
    local first = stream:sub(1, 1)
    assert.are.equal(string.rep(first, n), stream:sub(1, n), "one write, whole")
    assert.are.equal(string.rep(first == "a" and "b" or "a", n), stream:sub(n + 1))
  end)

  it("says what failed, in Go's words", function()
    local r = goro.run(function()
      local r = {}
      local l = assert(goro.net.listen("tcp", "127.0.0.1:0"))
      r.refused = select(2, goro.net.dial("tcp", "127.0.0.1:1"))
      r.inuse = select(2, goro.net.listen("tcp", l:addr()))
      r.noport = select(2, goro.net.dial("tcp", "127.0.0.1"))
      r.timeout = select(2, l:accept(0.01))
      l:close()
      r.closed = select(2, l:accept())
      return r
    end)
    assert.are.equal("connection refused", r.refused)
    assert.matches("address already in use", r.inuse)
    assert.matches("missing port in address", r.noport)
    assert.are.equal("i/o timeout", r.timeout)
    assert.are.equal("use of closed network connection", r.closed)
  end)

  it("checks its arguments", function()
    assert.matches("bad argument #1 to 'goro.net.listen' %(invalid option 'tcp9'%)",
      h.errmsg(goro.net.listen, "tcp9", ":0"))
    assert.matches("not a stream network", h.errmsg(goro.net.listen, "udp", ":0"))
    assert.matches("goro: dial called outside a goroutine", h.errmsg(goro.net.dial, "tcp", "127.0.0.1:1"))
  end)

  it("a read with a bad size raises and leaves the conn readable", function()
    goro.run(function()
      local l = assert(goro.net.listen("tcp", "127.0.0.1:0"))
      local c = assert(goro.net.dial("tcp", l:addr(), 5))
      local s = assert(l:accept(5))
      assert.matches("bad argument #1 to 'read_exact' %(size out of range%)",
        h.errmsg(function() return c:read_exact(-1) end))
      assert.matches("bad argument #1 to 'read' %(number expected, got string%)",
        h.errmsg(function() return c:read("many") end))
      assert.matches("bad argument #1 to 'read_line'",
        h.errmsg(function() return c:read_line({}) end))
      s:write("ok\n")
      assert.are.equal("ok", c:read_line(nil), "the reads were not left waiting for a turn")
      c:close(); s:close(); l:close()
    end)
  end)

  it("closes its fds: by close, by <close>, and by the collector", function()
    collectgarbage(); collectgarbage()
    local before = fds()
    goro.run(function()
      local l <close> = assert(goro.net.listen("tcp", "127.0.0.1:0"))
      for _ = 1, 20 do
        local c = goro.net.dial("tcp", l:addr())
        l:accept()  -- and forget both
      end
    end)
    collectgarbage(); collectgarbage()
    assert.are.equal(before, fds())
  end)

  it("shows a G parked on a conn in the dump, with its fd and peer", function()
    local dump = goro.run(function()
      local l = assert(goro.net.listen("tcp", "127.0.0.1:0"))
      goro.go(function() local c = l:accept(); goro.sleep(0.1) end)
      local c = assert(goro.net.dial("tcp", l:addr()))
      goro.go(function() c:read() end)
      goro.sleep(0.01)
      local d = goro.dump()
      c:close(); l:close()
      return d
    end)
    assert.matches("%[IO wait, [%d.]+s, fd %d+ read, 127%.0%.0%.1:%d+%]", dump)
  end)
end)

-- IPv6 loopback is not configured on every machine; the specs that need
-- it say so as pending rather than pass without running.
local function have_ipv6()
  local ok = goro.run(function()
    local l = goro.net.listen("tcp6", "[::1]:0")
    if l then l:close() end
    return l ~= nil
  end)
  return ok
end

describe("goro.net over IPv6", function()
  local v6 = have_ipv6()
  local test = v6 and it or pending

  test("echoes over tcp6 and names both ends in brackets", function()
    local got, la, ra = goro.run(function()
      local l = echo_server("tcp6", "[::1]:0")
      local c = assert(goro.net.dial("tcp6", l:addr(), 5))
      assert(c:write("six\n"))
      local line = assert(c:read_line())
      local la, ra = c:local_addr(), c:remote_addr()
      c:close(); l:close()
      return line, la, ra
    end)
    assert.are.equal("SIX", got)
    assert.matches("^%[::1%]:%d+$", la)
    assert.matches("^%[::1%]:%d+$", ra)
  end)

  test("dials a tcp6 listener through the unspecified network \"tcp\"", function()
    local got = goro.run(function()
      local l = echo_server("tcp6", "[::1]:0")
      local c = assert(goro.net.dial("tcp", l:addr(), 5))
      assert(c:write("any\n"))
      local line = c:read_line()
      c:close(); l:close()
      return line
    end)
    assert.are.equal("ANY", got)
  end)

  test("sends datagrams over udp6", function()
    local data = goro.run(function()
      local a = assert(goro.net.listen_packet("udp6", "[::1]:0"))
      local b = assert(goro.net.listen_packet("udp6", "[::1]:0"))
      assert(b:write_to("six", a:local_addr()))
      local data, from = a:read_from()
      assert(from == b:local_addr())
      a:close(); b:close()
      return data
    end)
    assert.are.equal("six", data)
  end)

  it("refuses an IPv6 address on tcp4 and an IPv4 address on tcp6", function()
    local e4, e6 = goro.run(function()
      return select(2, goro.net.listen("tcp4", "[::1]:0")),
             select(2, goro.net.listen("tcp6", "127.0.0.1:0"))
    end)
    assert.is_string(e4)
    assert.is_string(e6)
  end)
end)

describe("goro.net.dial with a timeout", function()
  -- A listener that never accepts, with a backlog of one: once its queue
  -- is full the kernel drops further SYNs, so a dial hangs in connect
  -- until its timeout, which must wake it with Go's text.
  it("gives up at its timeout while the peer never answers", function()
    local r = goro.run(function()
      local l = assert(goro.net.listen("tcp", "127.0.0.1:0", {backlog = 1}))
      local held, err, waited = {}, nil, nil
      for _ = 1, 16 do
        local t0 = goro.now()
        local c, e = goro.net.dial("tcp", l:addr(), 0.2)
        if not c then err, waited = e, goro.now() - t0 break end
        held[#held + 1] = c
      end
      for _, c in ipairs(held) do c:close() end
      l:close()
      return {err = err, waited = waited}
    end)
    assert.are.equal("i/o timeout", r.err)
    assert.is_true(r.waited >= 0.19, "waited " .. tostring(r.waited))
  end)

  it("rejects a negative or non-number timeout", function()
    goro.run(function()
      assert.matches("bad argument #3 to 'goro.net.dial'",
        h.errmsg(goro.net.dial, "tcp", "127.0.0.1:1", "soon"))
    end)
  end)
end)

describe("goro.net.lookup", function()
  it("resolves localhost and refuses a name that does not exist", function()
    local addrs, err = goro.run(function()
      return goro.net.lookup("localhost"), select(2, goro.net.lookup("no-such-host.invalid"))
    end)
    assert.is_true(#addrs >= 1)
    assert.matches("lookup", err)
  end)
end)

describe("goro.net packet connections", function()
  it("sends and receives datagrams over udp", function()
    local data, from = goro.run(function()
      local a = assert(goro.net.listen_packet("udp", "127.0.0.1:0"))
      local b = assert(goro.net.listen_packet("udp", "127.0.0.1:0"))
      goro.go(function() goro.sleep(0.01); b:write_to("ping", a:local_addr()) end)
      local data, from = a:read_from()
      local ok = from == b:local_addr()
      a:close(); b:close()
      return data, ok
    end)
    assert.are.equal("ping", data)
    assert.is_true(from)
  end)
end)
