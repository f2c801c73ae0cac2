#!/bin/bash
# SPDX-License-Identifier: MIT
# run.sh [BUILD] - tests of tools/demo: `demo serve` on a free port,
# checked with curl and raw bash /dev/tcp connections (every status code,
# keep-alive, pipelining, chunked bodies, slowloris, many clients, each
# endpoint's pattern, graceful shutdown with requests in flight), then
# `demo tour` and every `demo patterns NAME`. Prints TAP; exit 77 (skip)
# when something it needs is missing. GREEN_POLLER=epoll etc. pass through.
set -u
build=${1:-build}
demo=$build/tools/demo
[ -x "$demo" ] || { echo "1..0 # SKIP $demo not built"; exit 77; }
command -v curl >/dev/null || { echo "1..0 # SKIP curl not installed"; exit 77; }
command -v timeout >/dev/null || { echo "1..0 # SKIP timeout not installed"; exit 77; }

tmp=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

n=0
fail=0
ok() {			# ok CONDITION-STATUS DESCRIPTION [DIAGNOSTIC]
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		[ -n "${3:-}" ] && echo "$3" | sed 's/^/# /'
		fail=1
	fi
}
check() {		# check DESCRIPTION COMMAND...
	local d=$1
	shift
	"$@" >/dev/null 2>&1
	ok $? "$d"
}

# start NAME ARGS...: run `demo serve ARGS` on a free port; sets $port $pid.
start() {
	local name=$1 i
	shift
	"$demo" serve --listen 127.0.0.1:0 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	pid=$!
	pids+=("$pid")
	for i in $(seq 100); do
		grep -q listening "$tmp/$name.out" 2>/dev/null && break
		sleep 0.05
	done
	port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/$name.out" | head -1)
	[ -n "$port" ]
}

url() { echo "http://127.0.0.1:$port$1"; }

# many N PATH: N curl arguments "-o /dev/null URL" for xargs
many() {
	local i
	for i in $(seq "$1"); do printf -- '-o\n/dev/null\n%s\n' "$(url "$2")"; done
}
PAR="curl -s --no-progress-meter -Z --parallel-immediate -w %{http_code}\n"

# get PATH [CURL ARGS]: $code and the body in $tmp/body, headers in $tmp/hdr
get() {
	local path=$1
	shift
	code=$(curl -s -o "$tmp/body" -D "$tmp/hdr" -w '%{http_code}' --max-time 10 "$@" "$(url "$path")")
}

has_keys() {		# has_keys KEY...: the body has each "KEY":
	local k
	for k in "$@"; do grep -q "\"$k\":" "$tmp/body" || return 1; done
}

num() {			# num KEY: the number after "KEY": in the body
	sed -n "s/.*\"$1\":\([-0-9.]*\).*/\1/p" "$tmp/body" | head -1
}

# raw REQUEST-BYTES: one connection, write, read until the server closes
raw() {
	timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$port"'; printf "%b" "$1" >&3; cat <&3' _ "$1"
}

# ---- the service ------------------------------------------------------------

start main --header-timeout-ms 1000 --rate 10 --burst 5
ok $? "demo serve starts and prints its port" "$(cat "$tmp/main.out" "$tmp/main.err")"

get /
check "GET / is 200 with task, proc, conn, request" \
	test "$code" = 200 -a -n "$(has_keys message task proc conn request && echo y)"
check "answers are application/json with a Date" \
	grep -qi '^content-type: application/json' "$tmp/hdr"

get '/fanout?n=20&timeout_ms=30'
fin=$(num finished); to=$(num timed_out); el=$(num elapsed_ms)
check "/fanout: finished + timed_out = n, bounded by the deadline" \
	test "$code" = 200 -a "$((fin + to))" = 20 -a "${el%.*}" -lt 1000
get '/fanout?n=0'
check "/fanout?n=0 is 400" test "$code" = 400

get '/pipeline?n=1000'
check "/pipeline: the sum of squares of 1..1000" \
	test "$code" = 200 -a "$(num sum_of_squares)" = 333833500
get '/pipeline?n=x'
check "/pipeline?n=x is 400" test "$code" = 400

get '/pool?jobs=6&ms=5'
check "/pool: 6 jobs done by the workers" \
	test "$code" = 200 -a "$(num done)" = 6 -a -n "$(has_keys by_worker && echo y)"
get '/pool?jobs=100&ms=50'
check "/pool: more jobs than the queue holds is 503 with Retry-After" \
	test "$code" = 503 -a -n "$(grep -i '^retry-after: 1' "$tmp/hdr")"

get /ratelimit
check "/ratelimit: 200 with the bucket's state" \
	test "$code" = 200 -a -n "$(has_keys allowed tokens_left rate_per_s burst && echo y)"
codes=$(many 15 /ratelimit | xargs curl -s -w '%{http_code}\n')
check "/ratelimit: a burst over the bucket gets 429s, the bucket's 200s" \
	test "$(grep -c '^429$' <<<"$codes")" -ge 5 -a "$(grep -c '^200$' <<<"$codes")" -ge 1

get '/sleep?ms=50'
check "/sleep: slept and says how many tasks exist" \
	test "$code" = 200 -a -n "$(has_keys slept_ms actual_ms tasks_live && echo y)"
start_t=$(date +%s%N)
codes=$(many 100 '/sleep?ms=500' | xargs $PAR --parallel-max 100)
took=$(( ($(date +%s%N) - start_t) / 1000000 ))
check "/sleep: 100 concurrent sleepers of 500 ms take well under 100 x 500 ms ($took ms)" \
	test "$(grep -c '^200$' <<<"$codes")" = 100 -a "$took" -lt 5000

get '/cancel?ms=50'
check "/cancel: work that completes answers 200" \
	test "$code" = 200 -a "$(num steps)" = 10
curl -s --max-time 0.3 "$(url '/cancel?ms=5000')" >/dev/null
gone=0
for i in $(seq 40); do
	get /stats
	gone=$(num client_gone)
	[ "${gone:-0}" -ge 1 ] && break
	sleep 0.05
done
check "/cancel: a client that leaves has its work cancelled (/stats client_gone)" \
	test "${gone:-0}" -ge 1
check "/cancel: the server logs the cancellation" \
	grep -q "client left after" "$tmp/main.err"

get /stats
check "/stats: scheduler, per-processor counters, backends" \
	has_keys procs workers tasks_live tasks_spawned worker_parks steals stolen parker poller poller_features connections_open
get /metrics
check "/metrics: Prometheus text with HELP and TYPE" \
	grep -q '^# TYPE demo_requests_total counter' "$tmp/body"
check "/metrics: requests by path and code, latency histogram, scheduler gauges" \
	bash -c "grep -q '^demo_requests_total{path=\"/\",code=\"200\"} ' '$tmp/body' &&
		 grep -q '^demo_request_duration_seconds_bucket{path=\"/\",le=\"+Inf\"} ' '$tmp/body' &&
		 grep -q '^green_tasks_live ' '$tmp/body'"

get /echo -X POST --data-binary 'hello world'
check "POST /echo: length and FNV-1a of the body" \
	test "$code" = 200 -a "$(num bytes)" = 11 -a -n "$(grep -o d58b3fa7 "$tmp/body")"
printf 'hello world' >"$tmp/small"
get /echo -X POST -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/small"
check "POST /echo with a chunked body" \
	test "$code" = 200 -a -n "$(grep -o '"chunked":true' "$tmp/body")" -a -n "$(grep -o d58b3fa7 "$tmp/body")"
head -c 1048576 /dev/zero >"$tmp/mib"
get /echo -X POST -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/mib"
check "POST /echo: a chunked body of exactly 1 MiB is accepted" \
	test "$code" = 200 -a "$(num bytes)" = 1048576

# ---- every refusal --------------------------------------------------------

get /nope
check "unknown path is 404" test "$code" = 404
get / -X POST -d x
check "wrong method is 405 with Allow" \
	test "$code" = 405 -a -n "$(grep -i '^allow: GET, HEAD' "$tmp/hdr")"
get /echo
check "GET /echo is 405 with Allow: POST" \
	test "$code" = 405 -a -n "$(grep -i '^allow: POST' "$tmp/hdr")"
get / -I
check "HEAD / has the headers and no body" \
	test "$code" = 200 -a -z "$(grep '{' "$tmp/body")"
head -c 1048577 /dev/zero >"$tmp/big"
get /echo -X POST --data-binary @"$tmp/big"
check "a body over 1 MiB (Content-Length) is 413" test "$code" = 413
get /echo -X POST -H 'Transfer-Encoding: chunked' --data-binary @"$tmp/big"
check "a chunked body over 1 MiB is 413" test "$code" = 413
get / -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)"
check "a header over 8 KiB is 431" test "$code" = 431
out=$(raw 'HELLO WORLD\r\n\r\n')
check "a malformed request is 400 and the connection closes" \
	grep -q '^HTTP/1.1 400' <<<"$out"
out=$(raw 'GET / HTTP/1.1\r\n\r\n')
check "HTTP/1.1 without Host is 400" grep -q '^HTTP/1.1 400' <<<"$out"
out=$(raw 'GET / HTTP/2.0\r\nHost: x\r\n\r\n')
check "HTTP/2.0 on HTTP/1 is 505" grep -q '^HTTP/1.1 505' <<<"$out"
out=$(raw 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')
check "Content-Length with Transfer-Encoding is 400 (request smuggling)" \
	grep -q '^HTTP/1.1 400' <<<"$out"

# ---- keep-alive, pipelining ------------------------------------------------

out=$(timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$port"'
	printf "GET / HTTP/1.1\r\nHost: x\r\n\r\n" >&3
	sleep 0.2
	printf "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" >&3
	cat <&3')
check "keep-alive: two requests, one after the other, on one connection" \
	test "$(grep -c '^HTTP/1.1 200' <<<"$out")" = 2 -a \
	     -n "$(grep -o '"request":2' <<<"$out")"
out=$(raw 'GET /?x=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /pipeline?n=3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
order=$(grep -o '^HTTP/1.1 [0-9]*' <<<"$out" | cut -d' ' -f2 | tr '\n' ' ')
check "pipelining: three requests in one write, three answers in order ($order)" \
	test "$order" = "200 404 200 " -a -n "$(grep -o '"sum_of_squares":14' <<<"$out")"
out=$(raw 'POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
check "a chunked body in pieces, then a pipelined request" \
	test -n "$(grep -o '"bytes":11,"fnv1a32":"d58b3fa7","chunked":true' <<<"$out")" -a \
	     "$(grep -c '^HTTP/1.1 200' <<<"$out")" = 2

# ---- slow clients -----------------------------------------------------------

exec 5<>/dev/tcp/127.0.0.1/"$port"
printf 'GET / HTTP/1.1\r\nHost: x\r\n' >&5
slow_t=$(date +%s%N)
get /
fast_code=$code
fast=$(curl -s -o /dev/null -w '%{time_total}' "$(url /)")
out=$(timeout 10 cat <&5)
slow_ms=$(( ($(date +%s%N) - slow_t) / 1000000 ))
exec 5<&-
check "slowloris: another client is served meanwhile ($fast s)" \
	test "$fast_code" = 200 -a "${fast%%.*}" = 0
check "slowloris: half a header gets 408 and is closed after the header timeout ($slow_ms ms)" \
	test -n "$(grep '^HTTP/1.1 408' <<<"$out")" -a "$slow_ms" -ge 800 -a "$slow_ms" -lt 5000

# ---- many clients --------------------------------------------------------

codes=$(many 300 / | xargs $PAR --parallel-max 150)
check "300 clients, 150 at once: all answered 200" \
	test "$(grep -c '^200$' <<<"$codes")" = 300

# ---- graceful shutdown -------------------------------------------------------

many 30 '/sleep?ms=800' | xargs $PAR --parallel-max 30 >"$tmp/inflight" &
curls=$!
exec 6<>/dev/tcp/127.0.0.1/"$port"	# an idle connection
for i in $(seq 100); do		# until all 30 are in flight (and /stats)
	get /stats
	[ "$(num in_flight)" -ge 31 ] 2>/dev/null && break
	sleep 0.05
done
kill -TERM "$pid"
stop_t=$(date +%s%N)
wait "$pid"
rc=$?
stop_ms=$(( ($(date +%s%N) - stop_t) / 1000000 ))
wait "$curls"
idle=$(timeout 2 cat <&6; echo "eof $?")
exec 6<&-
check "SIGTERM: the server exits 0 ($stop_ms ms)" test "$rc" = 0
test "$(grep -c '^200$' "$tmp/inflight")" = 30
ok $? "SIGTERM: all 30 requests in flight were answered 200 (none lost)" \
	"$(sort "$tmp/inflight" | uniq -c; cat "$tmp/main.out")"
check "SIGTERM: the idle keep-alive connection was closed at once" \
	test "$idle" = "eof 0"
check "SIGTERM: the server said it stopped cleanly" \
	grep -q 'stopped cleanly' "$tmp/main.out"

start bound --drain-ms 300
curl -s -o "$tmp/cut" -w '%{http_code}' "$(url '/sleep?ms=3000')" >"$tmp/cutcode" &
c=$!
for i in $(seq 100); do
	get /stats
	[ "$(num in_flight)" -ge 2 ] 2>/dev/null && break
	sleep 0.05
done
kill -TERM "$pid"
wait "$pid"
rc=$?
wait "$c"
check "SIGTERM: a request longer than the drain bound is cut with 503, exit 0" \
	test "$rc" = 0 -a "$(cat "$tmp/cutcode")" = 503

start int
curl -s -o /dev/null -w '%{http_code}' "$(url '/sleep?ms=5000')" >"$tmp/cutcode" &
c=$!
for i in $(seq 100); do
	get /stats
	[ "$(num in_flight)" -ge 2 ] 2>/dev/null && break
	sleep 0.05
done
kill -INT "$pid"
sleep 0.2
kill -INT "$pid"
stop_t=$(date +%s%N)
wait "$pid"
rc=$?
stop_ms=$(( ($(date +%s%N) - stop_t) / 1000000 ))
wait "$c"
check "SIGINT twice: the second cancels what runs at once (503), exit 0 ($stop_ms ms)" \
	test "$rc" = 0 -a "$(cat "$tmp/cutcode")" = 503 -a "$stop_ms" -lt 2000

# ---- tour and patterns ---------------------------------------------------------

timeout 60 "$demo" tour >"$tmp/tour" 2>&1
rc=$?
ok "$rc" "demo tour exits 0" "$(tail -20 "$tmp/tour")"
check "demo tour ends with its summary, every step as described" \
	grep -q 'Every step behaved as described' "$tmp/tour"
"$demo" patterns >"$tmp/list" 2>&1
check "demo patterns lists the walk-throughs" \
	grep -q concurrency-vs-parallelism "$tmp/list"
for p in $(awk '/^  [a-z]/ {print $1}' "$tmp/list"); do
	timeout 60 "$demo" patterns "$p" >"$tmp/p" 2>&1
	rc=$?
	ok "$rc" "demo patterns $p exits 0" "$(tail -15 "$tmp/p")"
done
"$demo" patterns no-such >/dev/null 2>&1
check "demo patterns with an unknown name exits 2" test $? = 2

echo "1..$n"
exit $fail
