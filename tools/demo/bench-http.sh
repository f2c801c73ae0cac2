#!/bin/bash
# SPDX-License-Identifier: MIT
# bench-http.sh [BUILD] - `make bench-http`: wrk against `demo serve` and
# against the same service written with Go's net/http (tools/demo/go),
# on GET /, same machine, one run: 64 and 1000 connections, req/s and
# p99 latency of both, and the ratios. Target (issue 6): at least 1.5x
# Go's req/s with a lower p99.
#
# Also the server's CPU time per request (user + system, from /proc):
# unlike req/s and p99 it hardly depends on what else the machine runs.
#
# Environment: BENCH_SECONDS (default 5), BENCH_THREADS (wrk -t, default
# 2), BENCH_RUNS (default 1: more runs, alternating, report medians),
# GREEN_PROCS / GOMAXPROCS as usual (both default to every CPU).
set -u
build=${1:-build}
secs=${BENCH_SECONDS:-5}
threads=${BENCH_THREADS:-2}
runs=${BENCH_RUNS:-1}
demo=$build/tools/demo
gobin=$build/tools/demo-go

for t in wrk go; do
	command -v $t >/dev/null || { echo "bench-http: $t is not installed (make deps-bench)"; exit 1; }
done
[ -x "$demo" ] || { echo "bench-http: $demo not built"; exit 1; }
mkdir -p "$build/tools"
GO111MODULE=off go build -o "$gobin" tools/demo/go/main.go || exit 1

# 1000 connections: a descriptor each in wrk and in the server.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 1100 ]; then
	echo "bench-http: ulimit -n is $(ulimit -n); 1000 connections need 1100"
	exit 1
fi

tmp=$(mktemp -d)
spid=
cleanup() {
	[ -n "$spid" ] && kill -KILL "$spid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# serve NAME CMD...: start a server on a free port; sets $port, $spid.
serve() {
	local name=$1 i
	shift
	"$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	spid=$!
	for i in $(seq 100); do
		grep -q listening "$tmp/$name.out" 2>/dev/null && break
		sleep 0.05
	done
	port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/$name.out" | head -1)
	[ -n "$port" ] || { echo "bench-http: $name did not start"; cat "$tmp/$name.err"; exit 1; }
}

stop() {
	kill -TERM "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	spid=
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$spid/stat"; }

# wrk_run CONNS: req/s, p99 (ms) and the server's CPU us per request of
# GET / on $port, into $rps $p99 $cpu.
wrk_run() {
	local out t0 t1 n
	t0=$(cpu_ticks)
	out=$(wrk -t"$threads" -c"$1" -d"${secs}s" --latency "http://127.0.0.1:$port/" 2>&1)
	t1=$(cpu_ticks)
	n=$(awk '/requests in/ {print $1}' <<<"$out")
	cpu=$(awk -v a="$t0" -v b="$t1" -v n="${n:-0}" -v hz="$(getconf CLK_TCK)" \
		'BEGIN { printf "%.1f", n ? (b - a) * 1e6 / hz / n : 0 }')
	rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	p99=$(awk '$1 == "99%" {
		v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
		if (u == "us") v /= 1000; else if (u == "s") v *= 1000;
		printf "%.2f", v }' <<<"$out")
	errors=$(awk '/Socket errors|Non-2xx/ {print}' <<<"$out")
	[ -n "$rps" ] || { echo "bench-http: wrk failed:"; echo "$out"; exit 1; }
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -A RPS P99 CPU ERR
for conns in 64 1000; do
	for run in $(seq "$runs"); do
		for impl in c go; do
			if [ $impl = c ]; then
				serve c "$demo" serve --listen 127.0.0.1:0
			else
				serve go "$gobin" --listen 127.0.0.1:0
			fi
			# Warm up: connections, stacks, Go's heap.
			wrk -t"$threads" -c"$conns" -d1s "http://127.0.0.1:$port/" >/dev/null 2>&1
			wrk_run "$conns"
			RPS[$impl$conns]+="$rps "
			P99[$impl$conns]+="$p99 "
			CPU[$impl$conns]+="$cpu "
			ERR[$impl$conns]+="$errors"
			stop
		done
	done
	for impl in c go; do
		RPS[$impl$conns]=$(median <<<"${RPS[$impl$conns]}")
		P99[$impl$conns]=$(median <<<"${P99[$impl$conns]}")
		CPU[$impl$conns]=$(median <<<"${CPU[$impl$conns]}")
	done
done

echo "bench-http: wrk -t$threads -d${secs}s GET / on 127.0.0.1, $(nproc) CPUs," \
     "$(go version | awk '{print $3}'), $runs run(s)$([ "$runs" -gt 1 ] && echo ', medians')"
printf '%-6s %-22s %10s %9s %12s\n' conns server 'req/s' 'p99 ms' 'CPU us/req'
met=1
for conns in 64 1000; do
	printf '%-6s %-22s %10.0f %9s %12s\n' $conns "demo serve (libgreen)" "${RPS[c$conns]}" "${P99[c$conns]}" "${CPU[c$conns]}"
	printf '%-6s %-22s %10.0f %9s %12s\n' $conns "demo-go (net/http)" "${RPS[go$conns]}" "${P99[go$conns]}" "${CPU[go$conns]}"
	ratio=$(awk -v a="${RPS[c$conns]}" -v b="${RPS[go$conns]}" 'BEGIN { printf "%.2f", a / b }')
	p99r=$(awk -v a="${P99[c$conns]}" -v b="${P99[go$conns]}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
	cpur=$(awk -v a="${CPU[c$conns]}" -v b="${CPU[go$conns]}" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
	printf '%-6s %-22s %9sx %8sx %11sx\n' $conns "libgreen / Go" "$ratio" "$p99r" "$cpur"
	for impl in c go; do
		[ -n "${ERR[$impl$conns]}" ] && echo "       ($impl: ${ERR[$impl$conns]})"
	done
	awk -v r="$ratio" -v p="$p99r" 'BEGIN { exit !(r >= 1.5 && p < 1) }' || met=0
done
if [ $met = 1 ]; then
	echo "target (>= 1.5x Go's req/s, lower p99): met at 64 and 1000 connections"
else
	echo "target (>= 1.5x Go's req/s, lower p99): NOT met in this run"
fi
