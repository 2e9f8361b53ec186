#!/bin/sh
# spec/c/gdb_bt.sh PROGRAM — gdb's backtrace inside a G stack ends cleanly.
out=$(gdb -nx -batch -ex 'break goro_test_marker' -ex run -ex bt "$1" 2>&1)
echo "$out"
fail() { echo "FAIL: $1"; exit 1; }
echo "$out" | grep -q 'goro_test_marker' || fail "breakpoint not reached"
echo "$out" | grep -q 'g_entry' || fail "the context's entry is not listed"
last=$(echo "$out" | grep '^#' | tail -1)
echo "$last" | grep -q 'goroA_start' || fail "last frame is not goroA_start: $last"
echo "$out" | grep -qi 'corrupt stack\|Backtrace stopped' && fail "unwinding did not end cleanly"
echo "PASS: bt ends at goroA_start"
