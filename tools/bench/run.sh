#!/bin/bash
# SPDX-License-Identifier: MIT
# run.sh BUILD - `make bench`: each metric for libgreen and for the same Go
# program (tools/bench/bench.go), alternating, in one run on this machine.
# Prints the median of RUNS tries each:
#   BENCH <metric> libgreen=<v> go=<v> unit=<u> ratio=<go/libgreen>
# (ratio: how many times better libgreen is; higher is better).
set -euo pipefail

build=${1:-build}
runs=${RUNS:-5}
c="$build/tools/bench"
g="$build/tools/bench-go"

export GOCACHE="$PWD/$build/gocache" GOPATH="$PWD/$build/gopath" GOFLAGS=-mod=mod
export GO111MODULE=off
go build -o "$g" tools/bench/*.go

median() {
	sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# One-processor metrics run both programs on the same CPU: the vCPUs of
# this machine differ (a ping-pong takes 30% longer on one than on the
# other, for libgreen and Go alike), and a ratio of runs that landed on
# different ones measured the CPUs, not the runtimes.
cpu1=$(taskset -pc $$ 2>/dev/null | sed 's/.*: //; s/[-,].*//')
pin() {
	if [ "$1" = 1 ] && [ -n "$cpu1" ]; then
		echo taskset -c "$cpu1"
	fi
}

# metric procs target unit args...
bench() {
	local metric=$1 procs=$2 target=$3 unit=$4
	shift 4
	local i cs=() gs=() p
	p=$(pin "$procs")
	for ((i = 0; i < runs; i++)); do
		cs+=("$(GREEN_PROCS=$procs $p "$c" "$@")")
		gs+=("$(GOMAXPROCS=$procs $p "$g" "$@")")
	done
	local cm gm
	cm=$(printf '%s\n' "${cs[@]}" | median)
	gm=$(printf '%s\n' "${gs[@]}" | median)
	awk -v m="$metric" -v c="$cm" -v g="$gm" -v u="$unit" -v t="$target" -v p="$procs" \
		'BEGIN { r = g / c; printf "BENCH %s libgreen=%s go=%s unit=%s ratio=%.2f procs=%s target=%sx %s\n",
			m, c, g, u, r, p, t, (t == "-" ? "" : (r >= t ? "met" : "MISSED")) }'
}

echo "# libgreen vs Go $(go version | awk '{print $3}'), medians of $runs runs, $(nproc) CPUs${cpu1:+ (1-processor metrics on CPU $cpu1)}"
# Multi-processor ratios follow how far apart the host put the two vCPUs:
# a cache line's trip between them (tools/bench/xfer.c) has measured 56 ns
# and 250 ns on the same machine an hour apart.
xfer() {
	if [ "$(nproc)" -ge 2 ]; then
		echo "# cache line CPU-to-CPU: $("$c" xfer 1000000) ns ($1)"
	fi
}
xfer before
bench spawn_join 2 5 ns/task spawn 100 10000
xfer after
bench yield 1 3 ns/yield yield 2000000
bench spawn_join_burst 2 - ns/task spawn 10 100000
bench spawn_join 1 - ns/task spawn 100 10000
bench syscall_handoff 1 - ns/handoff handoff 1000
bench echo_1conn 2 1.5 ns/roundtrip echo 1 20000
bench echo_100conn 2 1.5 ns/roundtrip echo 100 100000
bench sleepers_10k_cpu 2 - ns/sleep sleepers 10000 10 cpu
bench sleepers_10k_wall 2 - ms sleepers 10000 10 wall
bench chan_pingpong 1 2 ns/roundtrip pingpong 1000000
bench chan_pingpong 2 2 ns/roundtrip pingpong 1000000
bench chan_buffered_1x1 2 - ns/value buffered 1 1 128 2000000
bench chan_buffered_4x4 2 - ns/value buffered 4 4 128 2000000
bench chan_select4 1 - ns/select select4 1000000
bench chan_select4 2 - ns/select select4 1000000
bench chan_parked_task_mem 2 0.5 bytes/task parkmem 100000
# The documented small-task configuration (green_run(3)): packed stacks.
GREEN_STACK_SIZE=2k GREEN_STACK_GUARD=never \
	bench chan_parked_task_mem_packed 2 1 bytes/task parkmem 100000
bench mutex_contended 2 - ns/op mutex 4 1000000
bench mutex_contended 1 - ns/op mutex 4 1000000
bench mutex_uncontended 1 - ns/op mutex 1 20000000
