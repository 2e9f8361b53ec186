-- goro.scope([ctx]): structured concurrency. A `<close>` scope waits for
-- every G started through it, however its block is left; the first error
-- cancels its context and every error is kept (as x/sync's errgroup and
-- errors.Join); s:limit(n) bounds how many run at once (errgroup's
-- SetLimit).
local h = require "spec.helpers"
local goro = h.goro
local C = goro.context

describe("goro.scope", function()
  it("waits for every G at the end of its block", function()
    h.run(function()
      local done = {}
      do
        local s <close> = goro.scope()
        for i = 1, 5 do
          s:go(function() goro.sleep(0.002 * i); done[i] = true end)
        end
      end
      assert.same({true, true, true, true, true}, done)
    end)
  end)

  it("waits when the block is left by break, return or an error", function()
    h.run(function()
      local ran = 0
      local function body(how)
        local s <close> = goro.scope()
        s:go(function() goro.sleep(0.01); ran = ran + 1 end)
        if how == "return" then return "r" end
        if how == "error" then error("out") end
      end
      for _ = 1, 3 do
        local s <close> = goro.scope()
        s:go(function() goro.sleep(0.01); ran = ran + 1 end)
        break
      end
      assert.equal(1, ran)
      assert.equal("r", body("return"))
      assert.equal(2, ran)
      assert.matches("out", h.errmsg(body, "error"))
      assert.equal(3, ran)
    end)
  end)

  it("cancels its context, with the block's error as cause, when the block fails", function()
    h.run(function()
      local saw
      local ok, err = pcall(function()
        local s <close> = goro.scope()
        s:go(function()
          s.ctx:done():recv()
          saw = C.cause(s.ctx)
        end)
        error("block failed", 0)
      end)
      assert.is_false(ok)
      assert.equal("block failed", err)
      assert.equal("block failed", saw)
    end)
  end)

  it("cancels s.ctx at the first error and keeps every error, in order", function()
    h.run(function()
      local s <close> = goro.scope()
      local stopped = false
      s:go(function() goro.sleep(0.005); error("first", 0) end)
      s:go(function() goro.sleep(0.01); error({code = 2}) end)
      s:go(function()
        local _, _, err = goro.chan():recv(s.ctx)
        stopped = err
      end)
      local ok, err = s:wait()
      assert.is_false(ok)
      assert.equal("context canceled", stopped)
      assert.equal("first", C.cause(s.ctx))
      assert.equal(2, #err)
      assert.equal("first", err[1])
      assert.same({code = 2}, err[2])
      assert.matches("^first\ntable: ", tostring(err))
      assert.equal("goro.errors", getmetatable(err).__name)
    end)
  end)

  it("returns true from wait when no G failed, and cancels s.ctx after", function()
    h.run(function()
      local s <close> = goro.scope()
      s:go(function() end)
      assert.is_true(s:wait())
      assert.equal("context canceled", s.ctx:err())
      assert.matches("go on a scope that has ended", h.errmsg(s.go, s, function() end))
    end)
  end)

  it("raises the errors at the end of its block when nobody waited", function()
    h.run(function()
      local ok, err = pcall(function()
        local s <close> = goro.scope()
        s:go(error, "lost?", 0)
      end)
      assert.is_false(ok)
      assert.equal("goro.errors", getmetatable(err).__name)
      assert.equal("lost?", err[1])
    end)
  end)

  it("makes s.ctx a child of the context it was given", function()
    h.run(function()
      local parent, cancel = C.with_cancel(C.with_value(C.background(), "k", "v"))
      local s <close> = goro.scope(parent)
      assert.equal("v", s.ctx:value("k"))
      local g = s:go(function() return goro.sleep(10, s.ctx) end)
      goro.sleep(0.005)
      cancel()
      assert.same({true, nil, "context canceled"}, {g:wait()})
      assert.is_true(s:wait())
    end)
  end)

  it("lets a G of the scope start more G's in it", function()
    h.run(function()
      local n = 0
      do
        local s <close> = goro.scope()
        local function spawn(depth)
          n = n + 1
          if depth < 4 then
            s:go(spawn, depth + 1)
            s:go(spawn, depth + 1)
          end
        end
        s:go(spawn, 1)
      end
      assert.equal(15, n)
    end)
  end)

  describe(":limit(n)", function()
    it("keeps at most n G's of the scope running; go waits for a place", function()
      h.run(function()
        local now, most = 0, 0
        local s <close> = goro.scope()
        s:limit(3)
        for _ = 1, 12 do
          s:go(function()
            now = now + 1
            if now > most then most = now end
            goro.sleep(0.002)
            now = now - 1
          end)
        end
        assert.is_true(s:wait())
        assert.equal(3, most)
      end)
    end)

    it("cannot change while the scope's G's run, and wants a positive integer", function()
      h.run(function()
        local s <close> = goro.scope()
        assert.matches("positive integer expected", h.errmsg(s.limit, s, 0))
        s:go(goro.sleep, 0.01)
        assert.matches("limit changed while the scope's G's run", h.errmsg(s.limit, s, 2))
      end)
    end)
  end)

  it("hands a freed place to the s:go that has waited longest", function()
    h.run(function()
      local order = {}
      local s <close> = goro.scope()
      s:limit(1)
      s:go(goro.sleep, 0.01)  -- holds the one place
      local wg = goro.waitgroup()
      for i = 1, 4 do
        wg:add(1)
        goro.go(function()
          s:go(function() order[#order + 1] = i end)
          wg:done()
        end)
      end
      wg:wait()
      assert.is_true(s:wait())
      assert.same({1, 2, 3, 4}, order)
    end)
  end)

  it("waits again for G's that its G's start while it waits", function()
    h.run(function()
      local depth = 0
      local s <close> = goro.scope()
      local function nest(n)
        goro.yield()
        if n > 0 then s:go(nest, n - 1) else depth = depth + 1 end
      end
      s:go(nest, 20)
      assert.is_true(s:wait())
      assert.equal(1, depth)
      assert.matches("^goro.scope%(0 running, ended%)$", tostring(s))
    end)
  end)

  it("waits again when a G starts one in it after the last one ended", function()
    h.run(function()
      local late = false
      local s <close> = goro.scope()
      s:go(goro.yield)
      goro.go(function()  -- not of the scope: it sees the count fall to 0
        while not tostring(s):match("^goro.scope%(0 ") do goro.yield() end
        s:go(function() goro.sleep(0.005); late = true end)
      end)
      assert.is_true(s:wait())
      assert.is_true(late)
    end)
  end)

  it("raises, never crashes, when its state is taken out of its table", function()
    h.run(function()
      local s = goro.scope()
      for k in pairs(s) do
        if type(k) ~= "string" then s[k] = nil end
      end
      assert.matches("goro.scope expected", h.errmsg(s.go, s, function() end))
      assert.matches("goro.scope expected", h.errmsg(s.wait, s))
      assert.matches("goro.scope expected", h.errmsg(s.go, {}, function() end))
    end)
  end)

  it("runs 1,000 G's and waits for them all", function()
    h.run(function()
      local sum = 0
      do
        local s <close> = goro.scope()
        for i = 1, 1000 do s:go(function() goro.yield(); sum = sum + i end) end
      end
      assert.equal(500500, sum)
    end)
  end)

  it("is named in goro.dump() for each of its G's, with where it was opened", function()
    h.run(function()
      local s <close> = goro.scope()
      local g = s:go(goro.sleep, 0.01)
      goro.yield()
      local dump = goro.dump()
      local line = debug.getinfo(1, "l").currentline
      assert.matches(("goroutine %d %%[sleep[^\n]*\n.-created by s:go at [^\n]*24%%-scope_spec.lua:%d in goro.scope 0x%%x+ opened at [^\n]*24%%-scope_spec.lua:%d\n")
        :format(g.id, line - 3, line - 4), dump)
      assert.matches("created by goro.run at", dump)
    end)
  end)

  it("gives clear errors for bad arguments", function()
    h.run(function()
      local s <close> = goro.scope()
      assert.matches("bad argument #1 to 'go' %(function expected, got nil%)",
        h.errmsg(s.go, s))
      assert.matches("goro.context expected",
        h.errmsg(goro.scope, {}))
      assert.matches("^goro.scope%(0 running%)$", tostring(s))
    end)
  end)
end)
