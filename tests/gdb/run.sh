#!/bin/bash
# SPDX-License-Identifier: MIT
# run.sh BUILD - tools/gdb/libgreen-gdb.py against tests/gdb/target.c: a
# live process stopped at a known point, a core file written by gdb's
# gcore, and a core file written by the kernel. Prints TAP; exits 77 (a
# skip, with the reason) when gdb is not installed or cannot trace.
#
# gcore stops copying a mapping at its first unreadable page, and task
# stacks guarded by guard regions (MADV_GUARD_INSTALL, Linux 6.13+) have
# such pages inside their slab: the gcore case runs with
# GREEN_DEBUG_NO_GUARD_REGIONS=1 (separate PROT_NONE guard mappings),
# which the kernel's own core dumps do not need.
set -uo pipefail
build=${1:-build}
helper=tools/gdb/libgreen-gdb.py

if ! command -v gdb >/dev/null 2>&1; then
	echo "1..0 # SKIP gdb not installed (apt-get install gdb)"
	exit 77
fi
if ! gdb -q -batch -nx -ex run --args /bin/true >/dev/null 2>&1; then
	echo "1..0 # SKIP gdb cannot run a program here (ptrace refused?)"
	exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prog=$tmp/target
make -s "$build/libgreen.a" >/dev/null || exit 1
${CC:-cc} -std=gnu11 -g -O2 -fno-omit-frame-pointer -D_GNU_SOURCE \
	-Ilibgreen/include tests/gdb/target.c "$build/libgreen.a" \
	-luring -lpthread -o "$prog" || exit 1

gdbrun() {
	timeout 120 gdb -q -batch -nx -ex "source $helper" \
		-ex 'set pagination off' "$@" 2>&1
}

echo "1..15"
n=0
fail=0
# ok DESC FILE PATTERN...: every extended regex PATTERN matches in FILE.
ok() {
	local desc=$1 file=$2 p
	shift 2
	n=$((n + 1))
	for p in "$@"; do
		if ! grep -Eq -- "$p" "$file"; then
			echo "not ok $n $desc"
			echo "# no match for: $p"
			sed 's/^/#   /' "$file" | head -60
			fail=1
			return
		fi
	done
	echo "ok $n $desc"
}

# What "green tasks" must say about target.c's five tasks.
tasks_re=('^task 1 \[running on P [0-9]+\] created by green_run$'
	'^task 2 \[chan receive on 0x[0-9a-f]+\] created by task 1 at main_task\+0x[0-9a-f]+ at tests/gdb/target.c:[0-9]+$'
	'^task 3 \[sync\.Mutex\.Lock on 0x[0-9a-f]+\] created by task 1 at main_task'
	'^task 4 \[sleep\] created by task 1 at main_task'
	'^task 5 \[IO wait \(read\) on fd [0-9]+\] created by task 1'
	'^5 tasks$')

# 1. A live process, stopped at gdb_stop_here, then saved with gcore.
GREEN_DEBUG_NO_GUARD_REGIONS=1 gdbrun -ex 'break gdb_stop_here' -ex run \
	-ex 'echo ==tasks==\n' -ex 'green tasks' \
	-ex 'echo ==bt2==\n' -ex 'green bt 2' \
	-ex 'echo ==bt1==\n' -ex 'green bt 1' \
	-ex 'echo ==bt5==\n' -ex 'green bt 5' \
	-ex 'echo ==bt42==\n' -ex 'green bt 42' \
	-ex "gcore $tmp/gcore" -ex kill "$prog" >"$tmp/live"
sed -n '/==tasks==/,/==bt2==/p' "$tmp/live" >"$tmp/live.tasks"
sed -n '/==bt2==/,/==bt1==/p' "$tmp/live" >"$tmp/live.bt2"
sed -n '/==bt1==/,/==bt5==/p' "$tmp/live" >"$tmp/live.bt1"
sed -n '/==bt5==/,/==bt42==/p' "$tmp/live" >"$tmp/live.bt5"
sed -n '/==bt42==/,$p' "$tmp/live" >"$tmp/live.bt42"
ok "live: green tasks lists each task's state and creator" \
	"$tmp/live.tasks" "${tasks_re[@]}"
ok "live: the fd and channel are the program's" "$tmp/live" \
	'^pipe fd ([0-9]+), channel (0x[0-9a-f]+)'
fd=$(sed -n 's/^pipe fd \([0-9]*\),.*/\1/p' "$tmp/live")
ch=$(sed -n 's/^pipe fd [0-9]*, channel \(0x[0-9a-f]*\),.*/\1/p' "$tmp/live")
ok "live: ... and match green tasks" "$tmp/live.tasks" \
	"^task 2 \\[chan receive on $ch\\]" "^task 5 \\[IO wait \\(read\\) on fd $fd\\]"
ok "live: green bt of a parked task walks its stack" "$tmp/live.bt2" \
	'^task 2 \[chan receive' '^#0 +0x[0-9a-f]+ in (g_switch|g_leave)\+0x' \
	' in chan_recv\+0x[0-9a-f]+ at libgreen/src/chan.c:[0-9]+' \
	' in recv_blocked\+0x[0-9a-f]+ at tests/gdb/target.c:[0-9]+' \
	' in g_entry\+' '^created by task 1 at main_task\+'
ok "live: green bt of the running task is its thread's" "$tmp/live.bt1" \
	'^  running on gdb thread [0-9]+:' '^#0 +gdb_stop_here \(\)' \
	'main_task \(arg=.*\) at tests/gdb/target.c:[0-9]+'
ok "live: green bt of a task in I/O" "$tmp/live.bt5" \
	' in green_read\+0x' ' in pipe_reader\+0x[0-9a-f]+ at tests/gdb/target.c'
ok "live: green bt of no such task says so" "$tmp/live.bt42" '^no task 42$'
ok "gcore wrote a core file" "$tmp/live" "^Saved corefile $tmp/gcore"

# 2. That core file.
gdbrun -ex 'echo ==tasks==\n' -ex 'green tasks' -ex 'echo ==bt3==\n' \
	-ex 'green bt 3' "$prog" "$tmp/gcore" >"$tmp/gcored"
sed -n '/==tasks==/,/==bt3==/p' "$tmp/gcored" >"$tmp/gcored.tasks"
sed -n '/==bt3==/,$p' "$tmp/gcored" >"$tmp/gcored.bt3"
ok "gcore: green tasks" "$tmp/gcored.tasks" "${tasks_re[@]}"
ok "gcore: green bt of a parked task" "$tmp/gcored.bt3" \
	'^task 3 \[sync\.Mutex\.Lock' \
	' in mutex_blocked\+0x[0-9a-f]+ at tests/gdb/target.c:[0-9]+' \
	'^created by task 1 at main_task\+'

# 3. A core dumped by the kernel (target aborts where it would stop).
pattern=$(cat /proc/sys/kernel/core_pattern 2>/dev/null)
core=
if [ "${pattern:0:1}" != "|" ]; then
	(cd "$tmp" && ulimit -c unlimited &&
	 TARGET_ABORT=1 "$prog" >/dev/null 2>&1) 2>/dev/null
	core=$(ls "$tmp"/core* 2>/dev/null | grep -v gcore | head -1)
fi
if [ -z "$core" ]; then
	for i in 1 2 3 4 5; do
		n=$((n + 1))
		echo "ok $n # SKIP no kernel core dump (core_pattern \"$pattern\")"
	done
else
	gdbrun -ex 'echo ==tasks==\n' -ex 'green tasks' \
		-ex 'echo ==bt4==\n' -ex 'green bt 4' \
		-ex 'echo ==bt1==\n' -ex 'green bt 1' "$prog" "$core" >"$tmp/kcore"
	gdbrun -ex 'green bt x' "$prog" "$core" >"$tmp/kcore.usage"
	sed -n '/==tasks==/,/==bt4==/p' "$tmp/kcore" >"$tmp/kcore.tasks"
	sed -n '/==bt4==/,/==bt1==/p' "$tmp/kcore" >"$tmp/kcore.bt4"
	sed -n '/==bt1==/,$p' "$tmp/kcore" >"$tmp/kcore.bt1"
	ok "kernel core: gdb loads it" "$tmp/kcore" 'Program terminated with signal SIGABRT'
	ok "kernel core: green tasks" "$tmp/kcore.tasks" "${tasks_re[@]}"
	ok "kernel core: green bt of a sleeping task" "$tmp/kcore.bt4" \
		'^task 4 \[sleep\]' ' in green_sleep_until\+0x' \
		' in sleeper\+0x[0-9a-f]+ at tests/gdb/target.c:[0-9]+'
	ok "kernel core: green bt of the running task" "$tmp/kcore.bt1" \
		' in main_task \(arg=.*\) at tests/gdb/target.c:[0-9]+'
	ok "kernel core: a usage message for a bad argument" \
		"$tmp/kcore.usage" '^usage: green bt ID$'
fi
exit $fail
