#!/bin/sh
# spec/c/gdb_bt.sh PROGRAM [SYSROOT QEMU...] — gdb's backtrace inside a G
# stack ends cleanly.
# Natively gdb runs PROGRAM. With SYSROOT and a qemu-user command (the
# AArch64 lane: `qemu-aarch64 -L SYSROOT`), PROGRAM runs under qemu's
# gdbstub, listening on a socket of its own, and gdb-multiarch attaches to
# it: the unwinding is then read from the AArch64 CFI.
prog=$1
if [ $# -eq 1 ]; then
  out=$(gdb -nx -batch -ex 'break goro_test_marker' -ex run -ex bt "$prog" 2>&1)
else
  sysroot=$2
  shift 2
  dir=$(mktemp -d)
  # (qemu waiting for gdb ignores SIGTERM: SIGKILL, if it is still there)
  trap 'kill -KILL $qemu 2>/dev/null; rm -rf "$dir"' EXIT
  "$@" -g "$dir/gdb.sock" "$prog" >"$dir/qemu.log" 2>&1 &
  qemu=$!
  for _ in $(seq 100); do
    [ -S "$dir/gdb.sock" ] && break
    sleep 0.1
  done
  out=$(gdb-multiarch -nx -batch -ex "set sysroot $sysroot" \
        -ex "target remote $dir/gdb.sock" -ex 'break goro_test_marker' \
        -ex continue -ex bt -ex kill "$prog" 2>&1)
fi
echo "$out"
fail() { echo "FAIL: $1"; exit 1; }
echo "$out" | grep -q 'goro_test_marker' || fail "breakpoint not reached"
echo "$out" | grep -q 'g_entry' || fail "the context's entry is not listed"
last=$(echo "$out" | grep '^#' | tail -1)
echo "$last" | grep -q 'goroA_start' || fail "last frame is not goroA_start: $last"
echo "$out" | grep -qi 'corrupt stack\|Backtrace stopped' && fail "unwinding did not end cleanly"
echo "PASS: bt ends at goroA_start"
