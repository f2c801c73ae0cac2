#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vmdebug.sh - green.ko under a debug kernel.  Builds, once, a tinyconfig
# 6.1 kernel from Debian's linux-source-6.1 with KASAN, lockdep,
# DEBUG_ATOMIC_SLEEP and full PREEMPT (tests/vmdebug/debug.config), boots
# it with tools/vm/vmtest.sh and fails on any report those checks print.
#
# usage: tools/vm/vmdebug.sh kernel
#            build the kernel unless it is cached; print its directory
#        tools/vm/vmdebug.sh cached
#            print the cached kernel's directory; exit 1 if not built yet
#        tools/vm/vmdebug.sh run [vmtest.sh options]
#            build or reuse the kernel, run vmtest.sh on it (--out
#            defaults to $VMDEBUG_OUT/vm), then scan the console log
#        tools/vm/vmdebug.sh scan LOG
#            only the scan: name and print every debug report in LOG
#
# Cache: outside the clone, so that every clone on the machine (CI clones
# afresh each time) reuses one build: $VMDEBUG_CACHE, default
# ${XDG_CACHE_HOME:-~/.cache}/libgreen/vmdebug, holds linux-<key>, the key
# a hash of debug.config, the linux-source-6.1 package version, the
# compiler and RECIPE below.  A tree is used only once its .vmdebug-ok
# marker is written (an interrupted build starts over); building a new
# tree removes the others not used for two days.  Objects not needed for
# out-of-tree modules are deleted.
#
# Exit: 0 clean; 1 a report, a failed test or a build failure; 3 the guest
# stalled (as vmtest.sh); 77 cannot run here (what is missing is named).
# Env: VMDEBUG_CACHE, VMDEBUG_OUT (the runs' output, default
# build/vmdebug in the clone), VMDEBUG_JOBS (default: nproc), KSRC_TAR.

set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FRAGMENT=$ROOT/tests/vmdebug/debug.config
if [ -n "${VMDEBUG_CACHE:-}" ]; then
	CACHE=$VMDEBUG_CACHE
elif [ -n "${XDG_CACHE_HOME:-}" ]; then
	CACHE=$XDG_CACHE_HOME/libgreen/vmdebug
elif [ -n "${HOME:-}" ]; then
	CACHE=$HOME/.cache/libgreen/vmdebug
else
	CACHE=$ROOT/build/vmdebug-cache
fi
OUTDIR=${VMDEBUG_OUT:-$ROOT/build/vmdebug}
JOBS=${VMDEBUG_JOBS:-$(nproc)}
KSRC_TAR=${KSRC_TAR:-/usr/src/linux-source-6.1.tar.xz}
# Bump when a change below would build a different kernel: it is part of
# the cache key.
RECIPE=1

die() { echo "vmdebug: $*" >&2; exit 1; }
skip() { echo "vmdebug: SKIP: $*" >&2; exit 77; }

# The cache key: everything the built tree depends on besides this script.
cache_key() {
	local ver

	ver=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null) ||
		ver=$(stat -c %s-%Y "$KSRC_TAR")
	{
		echo "recipe $RECIPE"
		echo "linux-source-6.1 $ver"
		gcc --version | head -n 1
		cat "$FRAGMENT"
	} | sha256sum | cut -c 1-16
}

# check_config CONFIG FRAGMENT: every option the fragment sets (or unsets)
# is so in CONFIG; names each one Kconfig dropped.
check_config() {
	local line opt got bad=0

	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*)
			grep -qxF "$line" "$1" && continue
			opt=${line%%=*}
			got=$(sed -n "s/^$opt=//p" "$1")
			echo "vmdebug: $opt: wanted ${line#*=}, got ${got:-not set}" >&2
			bad=1
			;;
		"# CONFIG_"*" is not set")
			opt=${line#\# }
			opt=${opt%% *}
			got=$(sed -n "s/^$opt=//p" "$1")
			[ -z "$got" ] && continue
			echo "vmdebug: $opt: wanted not set, got $got" >&2
			bad=1
			;;
		esac
	done <"$2"
	[ $bad = 0 ] || echo "vmdebug: missing options: fix $2 (an unmet dependency?)" >&2
	return $bad
}

# Keep what out-of-tree module builds read (the top files: Makefile,
# .config, Module.symvers; include/, scripts/, arch/x86/ and tools/ with
# objtool) and vmlinux, System.map and the image; delete the other source
# directories, the objects and the intermediate images: 1.4 GB -> 0.2 GB.
prune_tree() {
	local dir=$1 sub

	for sub in "$dir"/*/; do
		case $(basename "$sub") in
		arch|include|scripts|tools) ;;
		*) rm -rf "$sub" ;;
		esac
	done
	find "$dir/arch" -mindepth 1 -maxdepth 1 -type d ! -name x86 \
		-exec rm -rf {} +
	find "$dir/arch" \( -name '*.o' -o -name '*.a' -o -name 'vmlinux.bin*' \) \
		-type f -delete
	rm -f "$dir"/vmlinux.o "$dir"/vmlinux.a "$dir"/.tmp_vmlinux*
}

build_kernel() {
	local dir=$1 log=$1.log start

	local tool

	for tool in flex bison bc; do
		command -v $tool >/dev/null ||
			skip "no $tool: the kernel build needs flex bison bc libelf-dev libssl-dev"
	done
	[ -r "$KSRC_TAR" ] || skip "no $KSRC_TAR (install linux-source-6.1)"
	start=$(date +%s)
	echo "vmdebug: building the debug kernel in $dir (about 5 min on 2 idle cores; log $log)"
	rm -rf "$dir"
	mkdir -p "$dir"
	: >"$log"
	tar -xJf "$KSRC_TAR" -C "$dir" --strip-components=1 ||
		die "cannot extract $KSRC_TAR"
	(cd "$dir" &&
	 make -s tinyconfig &&
	 scripts/kconfig/merge_config.sh -m .config "$FRAGMENT" &&
	 make -s olddefconfig) >>"$log" 2>&1 ||
		{ tail -n 30 "$log"; die "kernel configuration failed"; }
	check_config "$dir/.config" "$FRAGMENT" || exit 1
	echo "vmdebug: configured in $(($(date +%s) - start)) s; compiling with -j$JOBS"
	# "modules" writes Module.symvers, which out-of-tree modules link to.
	make -C "$dir" -j"$JOBS" bzImage modules >>"$log" 2>&1 ||
		{ tail -n 40 "$log"; die "kernel build failed (log $log)"; }
	prune_tree "$dir"
	cp "$FRAGMENT" "$dir/vmdebug.config"
	echo "built in $(($(date +%s) - start)) s" >"$dir/.vmdebug-ok"
	echo "vmdebug: kernel built in $(($(date +%s) - start)) s ($(du -sh "$dir" | cut -f1) kept)"
}

# Print the kernel tree's directory, building it first if need be.
kernel() {
	local dir old stamp

	[ -r "$FRAGMENT" ] || die "no $FRAGMENT"
	mkdir -p "$CACHE"
	dir=$CACHE/linux-$(cache_key)
	# One builder at a time; the others wait for it and reuse its tree.
	exec 9>"$CACHE/.lock"
	flock 9
	if [ ! -f "$dir/.vmdebug-ok" ]; then
		build_kernel "$dir" >&2
		# Other clones may be on another debug.config: keep what they
		# used lately, drop the rest.
		for old in "$CACHE"/linux-*/; do
			old=${old%/}
			[ "$old" = "$dir" ] && continue
			stamp=$old/.vmdebug-used
			[ -e "$stamp" ] || stamp=$old
			find "$stamp" -maxdepth 0 -mtime +1 | grep -q . &&
				rm -rf "$old" "$old.log"
		done
	fi
	touch "$dir/.vmdebug-used"
	exec 9>&-
	check_config "$dir/.config" "$FRAGMENT" || exit 1
	echo "$dir"
}

cached() {
	local dir

	dir=$CACHE/linux-$(cache_key)
	[ -f "$dir/.vmdebug-ok" ] || return 1
	echo "$dir"
}

# The reports, most specific first: a line is named by the first pattern
# it matches.  Only kernel lines count (they carry a printk timestamp), so
# test output cannot match by accident.
REPORTS=(
	'KASAN|BUG: KASAN: |KASAN: '
	'lockdep|possible circular locking|possible recursive locking|inconsistent lock state|possible irq lock inversion|suspicious RCU usage|bad unlock balance|held lock freed|lock held when returning to user space|Invalid wait context|DEBUG_LOCKS_WARN_ON|BUG: MAX_LOCKDEP|INFO: trying to register non-static key|INFO: lockdep'
	'lockdep switched off (after a report or a taint: later lock bugs go unseen)|turning off the locking correctness validator|Disabling lock debugging'
	'sleep in atomic context|sleeping function called from invalid context|scheduling while atomic|using smp_processor_id\(\) in preemptible|using __this_cpu_[a-z]+\(\) in preemptible'
	'debugobjects|ODEBUG: '
	'list corruption|list_(add|del) corruption'
	'refcount|refcount_t: '
	'hang or stall|INFO: task .* blocked for more than|detected stalls|self-detected stall|soft lockup|hard LOCKUP'
	'Oops|Oops|general protection fault|kernel BUG at|BUG: unable to handle|Kernel panic'
	'BUG|BUG: '
	'WARNING|WARNING: |------------\[ cut here \]'
	'INFO|INFO: '
	'call trace|Call Trace:'
)

# scan LOG: print every report, grouped by kind; exit 1 if there is any.
# The console and the dmesg dump repeat each other: each line counts once.
scan() {
	local log=$1 lines entry kind re hits l found=0 first=
	local -A seen=()

	[ -r "$log" ] || die "no log $log"
	lines=$(grep -aE '^\[ *[0-9]+\.[0-9]+\] ' "$log" | awk '!seen[$0]++')
	for entry in "${REPORTS[@]}"; do
		kind=${entry%%|*}
		re=${entry#*|}
		hits=
		# A line already named by a more specific kind is left out.
		while IFS= read -r l; do
			if [ -z "$l" ] || [ -n "${seen[$l]+x}" ]; then
				continue
			fi
			seen[$l]=1
			hits+=$l$'\n'
		done < <(echo "$lines" | grep -aE -- "$re")
		[ -n "$hits" ] || continue
		hits=${hits%$'\n'}
		found=1
		[ -n "$first" ] || first=$(echo "$hits" | head -n 1)
		echo "vmdebug: FOUND $kind ($(echo "$hits" | wc -l) line(s)):"
		echo "$hits" | head -n 20 | sed 's/^/    /'
	done
	if [ $found = 1 ]; then
		# The first report in full, for the bug report.
		echo "$lines" | grep -aF -B 2 -A 80 -m 1 -- "$first" >"$(dirname "$log")/splat.txt"
		echo "vmdebug: the first report in full: $(dirname "$log")/splat.txt"
		return 1
	fi
	return 0
}

# The debug checks must have been live in the booted kernel.
check_live() {
	local log=$1 ok=0

	grep -aq 'KernelAddressSanitizer initialized' "$log" ||
		{ echo "vmdebug: FAIL: KASAN was not initialized in the guest"; ok=1; }
	grep -aq 'Lock dependency validator' "$log" ||
		{ echo "vmdebug: FAIL: lockdep did not start in the guest"; ok=1; }
	return $ok
}

run() {
	local kdir out=$OUTDIR/vm rc arg prev=

	for arg in "$@"; do
		[ "$prev" = --out ] && out=$arg
		prev=$arg
	done
	kdir=$(kernel) || exit $?
	echo "vmdebug: kernel $kdir ($(cat "$kdir/.vmdebug-ok"))"
	# loglevel=5: warnings on the console too (lockdep, WARNING, hung
	# tasks), so a run that hangs still shows them; the scan reads the
	# console and the dmesg dumped at the end.
	"$ROOT/tools/vm/vmtest.sh" --kdir "$kdir" \
		--kernel "$kdir/arch/x86/boot/bzImage" --out "$out" \
		--append loglevel=5 "$@"
	rc=$?
	[ $rc = 77 ] && exit 77
	[ -r "$out/serial.log" ] || die "no console log in $out"
	check_live "$out/serial.log" || rc=1
	if ! scan "$out/serial.log"; then
		echo "vmdebug: FAIL: debug-kernel report(s) in the console log (above)"
		[ $rc = 0 ] && rc=1
	fi
	if [ $rc = 0 ]; then
		echo "vmdebug: PASS: no KASAN, lockdep, atomic-sleep, WARNING, BUG or Oops report"
	else
		echo "vmdebug: FAILED (log: $out/serial.log)"
	fi
	exit $rc
}

# Every branch exits: bash reads a script while it runs it, so a long
# build must not go on to read an edited file.
case "${1:-}" in
kernel) kernel; exit ;;
cached) cached; exit ;;
run) shift; run "$@" ;;	# run() exits
scan) [ $# = 2 ] || die "usage: $0 scan LOG"; scan "$2"; exit ;;
*) sed -n '3,31p' "$0"; exit 2 ;;
esac
