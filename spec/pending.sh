#!/bin/sh
# spec/pending.sh REASON — stands in for a test that a lane cannot run: says
# why and exits 77, which meson reports as SKIP and scripts/tally.py counts
# as pending.
echo "pending: $*"
exit 77
