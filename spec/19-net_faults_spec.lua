-- goro.net under faults: resets, half-closes, peers that never read, and
-- a thousand connections at once with random closes, resets and
-- deadlines from both sides, where every byte sent is received once, in
-- order, or the failure is reported.
local h = require "spec.helpers"
local goro = h.goro
local tm = require "goro_testmod"

describe("goro.net faults", function()
  it("reports a reset mid-read as 'connection reset by peer'", function()
    local err = goro.run(function()
      local l = assert(goro.net.listen("tcp", "127.0.0.1:0"))
      goro.go(function()
        local c = l:accept()
        c:write("partial")
        goro.sleep(0.02)
        tm.linger0(c:fd())
        c:close()  -- a reset, not a FIN
      end)
      local c = assert(goro.net.dial("tcp", l:addr()))
      assert(c:read_exact(7))
      local _, err = c:read()
      c:close(); l:close()
      return err
    end)
    assert.are.equal("connection reset by peer", err)
  end)

  it("reports a write to a reset peer as a broken pipe or a reset", function()
    local err = goro.run(function()
      local l = assert(goro.net.listen("tcp", "127.0.0.1:0"))
      goro.go(function()
        local c = l:accept()
        goro.sleep(0.01)  -- (after the dial has completed)
        tm.linger0(c:fd())
        c:close()
      end)
      local c = assert(goro.net.dial("tcp", l:addr()))
      goro.sleep(0.03)
      local err
      for _ = 1, 100 do  -- (the first write may still be accepted)
        local ok, e = c:write(string.rep("x", 65536))
        if not ok then err = e break end
      end
      c:close(); l:close()
      return err
    end)
    assert.is_true(err == "broken pipe" or err == "connection reset by peer", err)
  end)

  it("half-closes: close_write ends the peer's reads, ours go on", function()
    local r = goro.run(function()
      local l = assert(goro.net.listen("tcp", "127.0.0.1:0"))
      goro.go(function()
        local c = l:accept()
        local all = {}
        while true do
          local s = c:read()
          if not s then break end
          all[#all + 1] = s
        end
        c:write("got " .. table.concat(all))  -- after our EOF, still writes
        c:close()
      end)
      local c = assert(goro.net.dial("tcp", l:addr()))
      c:write("abc")
      c:close_write()
      local r = c:read_exact(7)
      c:close(); l:close()
      return r
    end)
    assert.are.equal("got abc", r)
  end)

  it("keeps every byte of a thousand connections with random faults", function()
    local n = 1000
    if tm.raise_nofile(3 * n + 100) < 2 * n + 100 then
      pending("needs " .. (2 * n + 100) .. " fds")
      return
    end
    local report = goro.run({timeout = 120}, function()
      local l = assert(goro.net.listen("tcp", "127.0.0.1:0", {backlog = 4096}))
      local seed = 42
      local function rand(k)  -- a small LCG: the same run every time
        seed = (seed * 1103515245 + 12345) % 2147483648
        return seed % k
      end
      -- Server: echo each conn; some conns it resets or closes early.
      local fate = {}
      goro.go(function()
        for i = 1, n do
          local c = l:accept()
          if not c then return end
          local f = rand(20)
          goro.go(function()
            local echoed = 0
            while true do
              local s = c:read(rand(4000) + 1)
              if not s then break end
              if f == 0 and echoed > 1000 then tm.linger0(c:fd()); break end
              if f == 1 and echoed > 1000 then break end
              if not c:write(s) then break end
              echoed = echoed + #s
            end
            c:close()
          end)
        end
      end)
      -- Clients: send a seeded stream in random chunks, read it back.
      local wg = goro.waitgroup()
      local ok, failed, corrupt = 0, 0, 0
      for i = 1, n do
        wg:add(1)
        local size, f = 2000 + rand(20000), rand(20)
        goro.go(function()
          local c, err = goro.net.dial("tcp", l:addr(), 30)
          if not c then failed = failed + 1; wg:done() return end
          local parts = {}  -- every 8 bytes say where they are, and whose
          for k = 1, size // 8 do parts[k] = string.format("%04x%04x", i, k % 65536) end
          local data = table.concat(parts)
          if f == 2 then c:set_deadline(goro.now() + 0.001 * rand(20)) end
          goro.go(function()  -- the writer
            local off = 1
            while off <= #data do
              local k = rand(3000) + 1
              if not c:write(data:sub(off, off + k - 1)) then break end
              off = off + k
              if rand(8) == 0 then goro.yield() end
            end
            if f == 3 then c:close_write() end
          end)
          local got = {}
          local have, broken = 0, false
          while have < #data do
            local chunk, err = c:read(65536)
            if not chunk then broken = true break end
            got[#got + 1] = chunk
            have = have + #chunk
          end
          local back = table.concat(got)
          if back ~= data:sub(1, #back) then
            corrupt = corrupt + 1
          elseif broken then
            failed = failed + 1
          else
            ok = ok + 1
          end
          c:close()
          wg:done()
        end)
      end
      wg:wait()
      l:close()
      goro.sleep(0.01)
      local s = goro.stats()
      return {ok = ok, failed = failed, corrupt = corrupt, fds = s.io_fds,
              waiters = s.io_waiters}
    end)
    assert.are.equal(0, report.corrupt, "no byte lost, doubled or out of order")
    assert.are.equal(n, report.ok + report.failed)
    assert.is_true(report.ok > n / 2, "most finish: " .. report.ok)
    assert.is_true(report.failed > 0, "the faults made some fail")
    assert.are.equal(0, report.waiters)
  end)
end)
