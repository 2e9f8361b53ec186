/*
** spec/c/chan.c — channels and select, driven through the Lua API, with
** the invariants the runtime and the bridge keep read from the bridge's
** private structs (vm_bridge/chan.h).
**
** Lua code runs under goro.run. Probes registered as globals read a
** channel's struct from inside a G, with the P held, so that nothing
** changes it meanwhile, and return what they see; Lua collects it and the
** test asserts on it at the end. The probes read these fields only:
** struct chan's cap, count, head, closed, recvq and sendq (wait queues of
** struct goro_waiter: head, tail, next, prev, q, data) and a timer
** channel's t.heapidx (>= 0 while in the P's heap).
*/
#include <lauxlib.h>
#include <lua.h>

#include "../../vm_bridge/chan.h"
#include "crit.h"
#include "luastate.h"

/* ---- probes ------------------------------------------------------------------ */

/* The number of waiters on q, or -1 if q is not a well-formed list whose
** every waiter says it is on q. */
static int qlen(struct goro_waitq *q) {
  struct goro_waiter *prev = NULL;
  int n = 0;
  for (struct goro_waiter *w = q->head; w != NULL; prev = w, w = w->next)
    if (w->q != q || w->prev != prev || ++n > 1000000) return -1;
  return q->tail == prev ? n : -1;
}

static struct chan *tochan(lua_State *T, int i) {
  return luaL_checkudata(T, i, GORO_CHAN_MT);
}

/* chan_state(ch) -> {count, head, cap, closed, nrecv, nsend} (nrecv and
** nsend: qlen of the queues). */
static int l_chan_state(lua_State *T) {
  struct chan *c = tochan(T, 1);
  lua_createtable(T, 0, 6);
  lua_pushinteger(T, c->count);
  lua_setfield(T, -2, "count");
  lua_pushinteger(T, c->head);
  lua_setfield(T, -2, "head");
  lua_pushinteger(T, c->cap);
  lua_setfield(T, -2, "cap");
  lua_pushboolean(T, c->closed);
  lua_setfield(T, -2, "closed");
  lua_pushinteger(T, qlen(&c->recvq));
  lua_setfield(T, -2, "nrecv");
  lua_pushinteger(T, qlen(&c->sendq));
  lua_setfield(T, -2, "nsend");
  return 1;
}

static int count_of(struct goro_waitq *q, lua_State *th) {
  int n = 0;
  for (struct goro_waiter *w = q->head; w != NULL; w = w->next) n += w->data == th;
  return n;
}

/* waiters_of(thread, ch...) -> how many waiters of the G running `thread`
** the channels' queues hold. */
static int l_waiters_of(lua_State *T) {
  lua_State *th = lua_tothread(T, 1);
  int n = 0;
  luaL_argcheck(T, th != NULL, 1, "a thread");
  for (int i = 2; i <= lua_gettop(T); i++) {
    struct chan *c = tochan(T, i);
    n += count_of(&c->recvq, th) + count_of(&c->sendq, th);
  }
  lua_pushinteger(T, n);
  return 1;
}

/* in_heap(ch) -> is timer channel ch in the P's timer heap? */
static int l_in_heap(lua_State *T) {
  struct tchan *tc = (struct tchan *)tochan(T, 1);
  lua_pushboolean(T, tc->t.heapidx >= 0);
  return 1;
}

/* Lua's side: settle() and the record of what went wrong. */
static const char *prelude =
    "goro = require 'goro'\n"
    "fails = {}\n"
    /* Note a failed check. */
    "function check(ok, what) if not ok then fails[#fails + 1] = what end end\n"
    /* Check the fields of chan_state(ch) named in want. */
    "function expect(what, ch, want)\n"
    "  local st = chan_state(ch)\n"
    "  for k, v in pairs(want) do\n"
    "    check(st[k] == v, ('%s: %s is %s, not %s'):format(what, k, tostring(st[k]),\n"
    "                                                     tostring(v)))\n"
    "  end\n"
    "end\n"
    /* Yield until cond() holds. With one P and a FIFO run queue, a G
    ** made runnable runs before a G that yields after it: one or two
    ** yields suffice, whatever the machine's speed. */
    "function settle(what, cond)\n"
    "  for _ = 1, 10000 do\n"
    "    if cond() then return end\n"
    "    goro.yield()\n"
    "  end\n"
    "  check(cond(), 'never: ' .. what)\n"
    "end\n"
    "function nrecv(ch) return chan_state(ch).nrecv end\n"
    "function nsend(ch) return chan_state(ch).nsend end\n";

static lua_State *new_state(void) {
  lua_State *L = goro_test_state();
  cr_assert_not_null(L);
  lua_register(L, "chan_state", l_chan_state);
  lua_register(L, "waiters_of", l_waiters_of);
  lua_register(L, "in_heap", l_in_heap);
  cr_assert_eq(luaL_dostring(L, prelude), LUA_OK, "%s", lua_tostring(L, -1));
  return L;
}

static void run(lua_State *L, const char *code) {
  int rc = luaL_dostring(L, code);
  cr_assert_eq(rc, LUA_OK, "%s", rc != LUA_OK ? lua_tostring(L, -1) : "");
}

/* Assert that no check() failed, naming the first that did. */
static void assert_no_fails(lua_State *L) {
  lua_Integer n;
  lua_getglobal(L, "fails");
  n = luaL_len(L, -1);
  lua_geti(L, -1, 1);
  cr_assert_eq(n, 0, "%lld checks failed, the first: %s", (long long)n,
               lua_tostring(L, -1));
  lua_pop(L, 2);
}

/* A new state that has run `code` with no failed check(). */
static lua_State *run_checked(const char *code) {
  lua_State *L = new_state();
  run(L, code);
  assert_no_fails(L);
  return L;
}

static lua_Integer global_int(lua_State *L, const char *name) {
  lua_Integer v;
  lua_getglobal(L, name);
  cr_assert(lua_isinteger(L, -1), "%s is an integer", name);
  v = lua_tointeger(L, -1);
  lua_pop(L, 1);
  return v;
}

/* Assert that the global array `name` holds 1..n. */
static void assert_sequence(lua_State *L, const char *name, int n) {
  lua_getglobal(L, name);
  cr_assert_eq(luaL_len(L, -1), n, "%s holds %d values", name, n);
  for (int i = 1; i <= n; i++) {
    lua_geti(L, -1, i);
    cr_assert_eq(lua_tointeger(L, -1), i, "%s[%d] is %lld", name, i,
                 (long long)lua_tointeger(L, -1));
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* ---- unbuffered ------------------------------------------------------------ */

Test(chan, unbuffered_values_cross_in_order_and_leave_no_waiter, .timeout = 30) {
  lua_State *L = run_checked(
      "local ch = goro.chan()\n"
      "got = {}\n"
      "goro.run(function()\n"
      /* Senders block first: the value waits on the sender's stack. */
      "  local sender = goro.go(function() for i = 1, 50 do ch:send(i) end end)\n"
      "  for i = 1, 50 do\n"
      "    settle('a sender waits', function() return nsend(ch) == 1 end)\n"
      "    expect('sender waiting', ch, {nrecv = 0, nsend = 1, count = 0})\n"
      "    got[#got + 1] = ch:recv()\n"
      "  end\n"
      "  sender:wait()\n"
      /* Receivers block first: the value goes onto the receiver's stack. */
      "  local receiver = goro.go(function()\n"
      "    for _ = 51, 100 do got[#got + 1] = ch:recv() end\n"
      "  end)\n"
      "  for i = 51, 100 do\n"
      "    settle('a receiver waits', function() return nrecv(ch) == 1 end)\n"
      "    expect('receiver waiting', ch, {nrecv = 1, nsend = 0, count = 0})\n"
      "    ch:send(i)\n"
      "  end\n"
      "  receiver:wait()\n"
      "end)\n"
      "expect('after', ch, {nrecv = 0, nsend = 0, count = 0, head = 0})\n");
  assert_sequence(L, "got", 100);
  lua_close(L);
}

/* ---- buffered ------------------------------------------------------------- */

/* A producer keeps a 3-slot ring full; each receive takes the head and
** lets the blocked producer's value in at the tail. */
Test(chan, a_buffered_ring_holds_at_most_cap_and_wraps_in_order, .timeout = 30) {
  lua_State *L = run_checked(
      "local ch = goro.chan(3)\n"
      "got, heads, nheads, maxcount = {}, {}, 0, 0\n"
      "goro.run(function()\n"
      "  local done = false\n"
      "  goro.go(function() for i = 1, 20 do ch:send(i) end done = true end)\n"
      "  for _ = 1, 20 do\n"
      "    settle('the producer blocks or ends', function()\n"
      "      return nsend(ch) == 1 or done\n"
      "    end)\n"
      "    local st = chan_state(ch)\n"
      "    check(st.count >= 0 and st.count <= st.cap, 'count ' .. st.count)\n"
      "    check(st.head >= 0 and st.head < st.cap, 'head ' .. st.head)\n"
      "    check(st.nrecv == 0, 'receivers wait on a ring with values')\n"
      "    check(st.nsend == 0 or st.count == st.cap, 'a sender waits on a ring with room')\n"
      "    if not heads[st.head] then heads[st.head], nheads = true, nheads + 1 end\n"
      "    if st.count > maxcount then maxcount = st.count end\n"
      "    got[#got + 1] = ch:recv()\n"
      "  end\n"
      "end)\n"
      /* 20 receives from slot 0 on: the head went round to 20 % 3. */
      "expect('after', ch, {nrecv = 0, nsend = 0, count = 0, head = 2})\n");
  assert_sequence(L, "got", 20);
  cr_assert_eq(global_int(L, "maxcount"), 3, "the ring filled up");
  cr_assert_eq(global_int(L, "nheads"), 3, "the head visited every slot");
  lua_close(L);
}

/* ---- select ----------------------------------------------------------------- */

/* A G selects on receives from a and b, a send on c and a timer's channel;
** each case wins in turn (the timer by t:reset(0)). When the select
** returns, no queue holds a waiter of the G and the timer is out of the
** heap. */
Test(chan, a_select_that_wins_one_case_leaves_no_waiter_on_the_others,
     .timeout = 30) {
  lua_State *L = run_checked(
      "wins = {0, 0, 0, 0}\n"
      "goro.run(function()\n"
      "  for round = 1, 100 do\n"
      "    local winner = round % 4 + 1\n"
      "    local a, b, c, t = goro.chan(), goro.chan(), goro.chan(), goro.timer(3600)\n"
      "    local th\n"
      "    local g = goro.go(function()\n"
      "      th = coroutine.running()\n"
      "      return goro.select(a:case_recv(), b:case_recv(), c:case_send('c'),\n"
      "                         t.ch:case_recv())\n"
      "    end)\n"
      "    settle('the select waits on all four', function()\n"
      "      return th ~= nil and waiters_of(th, a, b, c, t.ch) == 4\n"
      "    end)\n"
      "    check(in_heap(t.ch), 'a timer a G waits on is in the heap')\n"
      "    if winner == 1 then a:send('a')\n"
      "    elseif winner == 2 then b:send('b')\n"
      "    elseif winner == 3 then c:recv()\n"
      "    else t:reset(0) end\n"
      "    local ok, i = g:wait()\n"
      "    check(ok and i == winner, ('round %d: case %s won'):format(round, tostring(i)))\n"
      "    if i == winner then wins[i] = wins[i] + 1 end\n"
      "    check(waiters_of(th, a, b, c, t.ch) == 0, 'round ' .. round .. ': waiters left')\n"
      "    for _, ch in ipairs({a, b, c, t.ch}) do\n"
      "      expect('round ' .. round, ch, {nrecv = 0, nsend = 0})\n"
      "    end\n"
      "    check(not in_heap(t.ch), 'round ' .. round .. ': the timer is still in the heap')\n"
      "  end\n"
      "end)\n");
  for (int i = 1; i <= 4; i++) {
    lua_getglobal(L, "wins");
    lua_geti(L, -1, i);
    cr_assert_eq(lua_tointeger(L, -1), 25, "case %d won 25 rounds", i);
    lua_pop(L, 2);
  }
  lua_close(L);
}

/* A G selecting on a and b is woken through a; before it runs, its waiter
** on b is stale. Whoever comes to b then must not hand anything to it: a
** select with a default finds no receiver, a buffered send fills the
** buffer, and a G that sends blocks until the selecting G itself
** receives. b keeps each value for its real receiver. */
Test(chan, a_select_woken_by_one_case_leaves_a_ready_other_channel_untouched,
     .timeout = 30) {
  lua_State *L = run_checked(
      "goro.run(function()\n"
      "  local function selecting(a, b, after)\n"
      "    local th\n"
      "    local g = goro.go(function()\n"
      "      th = coroutine.running()\n"
      "      local i, v = goro.select(a:case_recv(), b:case_recv())\n"
      "      return i, v, after()\n"
      "    end)\n"
      "    settle('the select waits on both', function()\n"
      "      return th ~= nil and waiters_of(th, a, b) == 2\n"
      "    end)\n"
      "    return g\n"
      "  end\n"
      "  local function same(what, want, ...)\n"
      "    local got = table.pack(...)\n"
      "    for k = 1, math.max(#want, got.n) do\n"
      "      check(got[k] == want[k], ('%s: result %d is %s, not %s'):format(what, k,\n"
      "            tostring(got[k]), tostring(want[k])))\n"
      "    end\n"
      "  end\n"
      /* An offer through select with a default: nobody takes it. */
      "  local a, b = goro.chan(), goro.chan()\n"
      "  local g = selecting(a, b, function() return nsend(b), nrecv(b) end)\n"
      "  a:send('a')\n"
      "  same('offer', {2}, goro.select(b:case_send('b'), goro.default))\n"
      "  same('offer', {true, 1, 'a', 0, 0}, g:wait())\n"
      /* A buffered send: the value waits in the buffer. */
      "  a, b = goro.chan(), goro.chan(1)\n"
      "  g = selecting(a, b, function() return chan_state(b).count, (b:recv()) end)\n"
      "  a:send('a')\n"
      "  b:send('b')\n"
      "  expect('buffered', b, {count = 1, nrecv = 0, nsend = 0})\n"
      "  same('buffered', {true, 1, 'a', 1, 'b'}, g:wait())\n"
      /* A G that sends blocks (this one), its value kept on b. */
      "  a, b = goro.chan(), goro.chan()\n"
      "  g = selecting(a, b, function()\n"
      "    local st = chan_state(b)\n"
      "    return st.nsend, st.nrecv, (b:recv())\n"
      "  end)\n"
      "  a:send('a')\n"
      "  b:send('b')  -- blocks until the selecting G receives\n"
      "  same('blocked sender', {true, 1, 'a', 1, 0, 'b'}, g:wait())\n"
      "  for _, ch in ipairs({a, b}) do\n"
      "    expect('after', ch, {nrecv = 0, nsend = 0, count = 0})\n"
      "  end\n"
      "end)\n");
  lua_close(L);
}

/* ---- close ------------------------------------------------------------------ */

Test(chan, close_wakes_every_receiver_with_nil_false_and_every_sender_errors,
     .timeout = 30) {
  lua_State *L = run_checked(
      "receivers, senders = 0, 0\n"
      "goro.run(function()\n"
      "  local r, s, other = goro.chan(), goro.chan(), goro.chan()\n"
      "  local wg = goro.waitgroup()\n"
      "  local function got_nil_false(v, ok)\n"
      "    check(v == nil and ok == false, 'a receiver got ' .. tostring(v))\n"
      "    if v == nil and ok == false then receivers = receivers + 1 end\n"
      "  end\n"
      "  local function raised(ok, err)\n"
      "    check(not ok and tostring(err):find('send on closed channel', 1, true),\n"
      "          'a sender got ' .. tostring(err))\n"
      "    if not ok then senders = senders + 1 end\n"
      "  end\n"
      "  for k = 1, 4 do\n"
      "    wg:add(4)\n"
      "    goro.go(function() got_nil_false(r:recv()) wg:done() end)\n"
      "    goro.go(function()\n"
      "      local _, v, ok = goro.select(r:case_recv(), other:case_recv())\n"
      "      got_nil_false(v, ok) wg:done()\n"
      "    end)\n"
      "    goro.go(function() raised(pcall(s.send, s, k)) wg:done() end)\n"
      "    goro.go(function()\n"
      "      raised(pcall(goro.select, s:case_send(k), other:case_recv())) wg:done()\n"
      "    end)\n"
      "  end\n"
      "  settle('all sixteen wait', function() return nrecv(r) == 8 and nsend(s) == 8 end)\n"
      "  expect('other before', other, {nrecv = 8, nsend = 0})\n"
      "  r:close()\n"
      "  s:close()\n"
      /* Before any woken G runs: close emptied both queues. */
      "  expect('r closed', r, {closed = true, nrecv = 0, nsend = 0, count = 0})\n"
      "  expect('s closed', s, {closed = true, nrecv = 0, nsend = 0, count = 0})\n"
      "  wg:wait()\n"
      "  expect('other after', other, {nrecv = 0, nsend = 0})\n"
      "end)\n");
  cr_assert_eq(global_int(L, "receivers"), 8, "every receiver got nil, false");
  cr_assert_eq(global_int(L, "senders"), 8, "every sender raised");
  lua_close(L);
}

/* ---- timers' channels -------------------------------------------------------- */

Test(chan, a_timer_channel_is_in_the_heap_only_while_a_g_waits_on_it,
     .timeout = 30) {
  lua_State *L = run_checked(
      "goro.run(function()\n"
      "  local t, a = goro.timer(3600), goro.chan()\n"
      "  check(not in_heap(t.ch), 'armed, nobody waits: out of the heap')\n"
      "  local function waiter()\n"
      "    return goro.go(function() return goro.select(t.ch:case_recv(), a:case_recv()) end)\n"
      "  end\n"
      "  local g1, g2 = waiter(), waiter()\n"
      "  settle('two select', function() return nrecv(t.ch) == 2 end)\n"
      "  check(in_heap(t.ch), 'two wait: in the heap')\n"
      "  a:send(1)\n"
      "  settle('the woken one leaves', function() return nrecv(t.ch) == 1 end)\n"
      "  check(in_heap(t.ch), 'one still waits: in the heap')\n"
      "  a:send(2)\n"
      "  g1:wait()\n"
      "  g2:wait()\n"
      "  expect('both gone', t.ch, {nrecv = 0})\n"
      "  check(not in_heap(t.ch), 'both woken by another case: out of the heap')\n"
      /* A plain receive; stop and reset while it waits. */
      "  local g3 = goro.go(function() return t.ch:recv() end)\n"
      "  settle('a receiver', function() return nrecv(t.ch) == 1 end)\n"
      "  check(in_heap(t.ch), 'a receiver waits: in the heap')\n"
      "  t:stop()\n"
      "  check(not in_heap(t.ch), 'stopped: out of the heap')\n"
      "  t:reset(0)\n"
      "  check(in_heap(t.ch), 'reset while a G waits: in the heap')\n"
      "  local ok, v = g3:wait()\n"
      "  check(ok and type(v) == 'number', 'the receiver got the time')\n"
      "  check(not in_heap(t.ch), 'fired and received: out of the heap')\n"
      "end)\n");
  lua_close(L);
}

/* ---- the end of a run ---------------------------------------------------------- */

/* G's parked on channels when goro.run returns are abandoned; their
** waiters must go with them, or the next run's operations on the same
** channels would wake G's that are gone. */
Test(chan, a_g_abandoned_by_the_end_of_a_run_leaves_no_waiter_behind,
     .timeout = 30) {
  lua_State *L = run_checked(
      "ch, full, ch2, t = goro.chan(), goro.chan(1), goro.chan(), goro.timer(3600)\n"
      "goro.run(function()\n"
      "  full:send(0)\n"
      "  goro.go(function() ch:recv() end)\n"
      "  goro.go(function() goro.select(t.ch:case_recv(), full:case_send(2)) end)\n"
      "  goro.go(function() ch2:send(5) end)\n"
      "  settle('three parked G\\'s', function()\n"
      "    return nrecv(ch) == 1 and nsend(full) == 1 and nrecv(t.ch) == 1 and\n"
      "           nsend(ch2) == 1\n"
      "  end)\n"
      "  check(in_heap(t.ch), 'a G waits on the timer')\n"
      "end)\n"
      "for name, c in pairs({ch = ch, full = full, ch2 = ch2, t = t.ch}) do\n"
      "  expect('after the run: ' .. name, c, {nrecv = 0, nsend = 0})\n"
      "end\n"
      "expect('after the run: full', full, {count = 1})\n"
      "check(not in_heap(t.ch), 'after the run: the timer is out of the heap')\n");
  /* The next run uses the same channels. */
  run(L,
      "v1, v2, v3 = goro.run(function()\n"
      "  goro.go(function() ch:send(7) end)\n"
      "  goro.go(function() ch2:recv() end)\n"
      "  local v1 = ch:recv()\n"
      "  ch2:send(8)\n"
      "  t:reset(0)\n"
      "  return v1, full:recv(), type(t.ch:recv())\n"
      "end)\n");
  assert_no_fails(L);
  lua_getglobal(L, "v1");
  cr_assert_eq(lua_tointeger(L, -1), 7, "the next run's receive got its own sender's value");
  lua_getglobal(L, "v2");
  cr_assert_eq(lua_tointeger(L, -1), 0, "the buffer kept its value, not the abandoned send's");
  lua_getglobal(L, "v3");
  cr_assert_str_eq(lua_tostring(L, -1), "number", "the timer delivered");
  lua_close(L);
}

/* ---- fairness ------------------------------------------------------------------ */

/* A receive from a channel that always holds a value and a send to one
** that always has room: select takes each about half the time. (Random,
** not timed: the bound is 17 standard deviations below the mean.) */
Test(chan, select_takes_each_of_two_always_ready_cases_a_fair_share,
     .timeout = 30) {
  lua_State *L = run_checked(
      "took = {0, 0}\n"
      "local a, b = goro.chan(1), goro.chan(2000)\n"
      "goro.run(function()\n"
      "  a:send(0)\n"
      "  for k = 1, 2000 do\n"
      "    local i = goro.select(a:case_recv(), b:case_send(k))\n"
      "    took[i] = took[i] + 1\n"
      "    if i == 1 then a:send(0) end\n"
      "  end\n"
      "end)\n"
      "sent = #b\n"
      "expect('a', a, {count = 1, nrecv = 0, nsend = 0})\n");
  lua_getglobal(L, "took");
  lua_geti(L, -1, 1);
  lua_geti(L, -2, 2);
  cr_assert_geq(lua_tointeger(L, -2), 600, "the receive won %lld of 2000",
                (long long)lua_tointeger(L, -2));
  cr_assert_geq(lua_tointeger(L, -1), 600, "the send won %lld of 2000",
                (long long)lua_tointeger(L, -1));
  cr_assert_eq(global_int(L, "sent"), lua_tointeger(L, -1),
               "each send case taken put one value in b");
  lua_close(L);
}
