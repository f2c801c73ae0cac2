#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# broken.sh - the debug kernel must catch a use-after-free in green.ko.
#
# Builds green.ko with -DGREEN_FAULT_INJECT, loads it with inject_uaf=1
# (each group is read once after it is freed: see kmod/green.c), runs one
# selftest under the debug kernel (tools/vm/vmdebug.sh run) and passes only
# if that run FAILS with a KASAN use-after-free report in green.ko.  It
# also checks that a build without the macro has no inject_uaf parameter.
#
# usage: tests/vmdebug/broken.sh [--out DIR]
#        (default $VMDEBUG_OUT/broken; VMDEBUG_OUT defaults to build/vmdebug)
# Exit: 0 the bug was caught; 1 it was not, or the check went wrong;
# 77 the debug kernel cannot be built or booted here.

set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VMDEBUG=$ROOT/tools/vm/vmdebug.sh
OUT=${VMDEBUG_OUT:-$ROOT/build/vmdebug}/broken
TEST=green_ioctl_test
# The report must name the injected read, in green.ko.
WANT='BUG: KASAN: use-after-free in green_group_free_work'

die() { echo "broken: FAIL: $*"; exit 1; }

case "${1:-}" in
--out) OUT=$2 ;;
'') ;;
*) sed -n '3,16p' "$0"; exit 2 ;;
esac

has_param() {	# has_param KO: the module declares inject_uaf
	grep -aq 'parm=inject_uaf:' "$1"
}

kdir=$("$VMDEBUG" kernel) || exit $?
mkdir -p "$OUT"

# A production build (no GREEN_FAULT_INJECT) must not carry the parameter.
rm -rf "$OUT/kmod-plain"
cp -r "$ROOT/kmod" "$OUT/kmod-plain"
make -s -C "$kdir" M="$OUT/kmod-plain" modules >"$OUT/kmod-plain.log" 2>&1 ||
	{ cat "$OUT/kmod-plain.log"; die "module build failed"; }
has_param "$OUT/kmod-plain/green.ko" &&
	die "a build without GREEN_FAULT_INJECT has the inject_uaf parameter"
echo "broken: a production build has no inject_uaf parameter"

echo "broken: green.ko with the injected use-after-free, $TEST, debug kernel"
"$VMDEBUG" run --out "$OUT" --timeout 600 --only "$TEST" \
	--kcflags -DGREEN_FAULT_INJECT --modparam inject_uaf=1 >"$OUT/run.log" 2>&1
rc=$?
grep -E '^(vmdebug|vmtest): ' "$OUT/run.log" | sed 's/^/    /'
[ $rc = 77 ] && { echo "broken: SKIP: the debug kernel cannot run here"; exit 77; }
if [ ! -f "$OUT/kmod/green.ko" ] || ! has_param "$OUT/kmod/green.ko"; then
	die "the fault-injection build has no inject_uaf parameter"
fi
grep -q '^VMTEST: insmod ok' "$OUT/serial.log" ||
	die "insmod inject_uaf=1 failed: the bug was never armed (log $OUT/run.log)"
[ $rc != 0 ] || die "the run passed: the use-after-free was NOT caught"
hit=$(grep -aE '^\[ *[0-9]+\.[0-9]+\] ' "$OUT/serial.log" | grep -aF -m 1 -- "$WANT")
[ -n "$hit" ] ||
	die "the run failed (rc $rc) without '$WANT' (log $OUT/run.log)"
echo "broken: caught: $hit"
echo "broken: PASS (the injected use-after-free failed the run, as it must)"
exit 0
