// SPDX-License-Identifier: MIT

// Command demo-go is tools/demo's service written with Go's net/http: the
// same endpoints, JSON shapes and limits, so that `make bench-http` can
// put the two side by side and tools/demo/README.md can show each
// pattern in both languages. Standard library only; build with
//
//	GO111MODULE=off go build -o build/tools/demo-go tools/demo/go/main.go
//
// Differences that Go decides and a handler cannot change: the 400 and
// 431 answers net/http writes itself are plain text, not JSON, and its
// header limit is MaxHeaderBytes plus 4096 bytes of slack (so 4096 here
// gives the C server's 8 KiB). /stats reports what Go's runtime exposes;
// counters it does not (steals, parks, per-P queues) are 0.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	maxBody      = 1 << 20
	poolWorkers  = 4
	poolQueueCap = 32
)

var (
	listen        = flag.String("listen", "127.0.0.1:8080", "host:port (port 0: any)")
	headerTimeout = flag.Int("header-timeout-ms", 5000, "first byte to end of header")
	idleTimeout   = flag.Int("idle-timeout-ms", 60000, "keep-alive: between requests")
	drainMs       = flag.Int("drain-ms", 5000, "shutdown: bound for in-flight requests")
	rate          = flag.Int("rate", 100, "/ratelimit tokens per second")
	burst         = flag.Int("burst", 20, "/ratelimit bucket size")
	accessLog     = flag.Bool("log", false, "a line per request on stderr")
	procs         = flag.Int("procs", 0, "GOMAXPROCS (0: Go's default)")
)

var started = time.Now()

// Server counters, as the C server's.
var (
	connsOpen, connsTotal, requests, inFlight atomic.Int64
	clientGone                                atomic.Int64
)

// --- JSON answers ---------------------------------------------------------

func writeJSON(w http.ResponseWriter, status int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

type errorBody struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

func httpError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{msg, status})
}

// queryInt is the C server's query_long: the parameter in [min, max].
func queryInt(w http.ResponseWriter, r *http.Request, name string, def, min, max int) (int, bool) {
	s, ok := r.URL.Query()[name]
	if !ok {
		return def, true
	}
	n, err := strconv.Atoi(s[0])
	if err != nil || n < min || n > max {
		httpError(w, 400, fmt.Sprintf("%s: want an integer in [%d, %d]", name, min, max))
		return 0, false
	}
	return n, true
}

// --- / and /echo ----------------------------------------------------------

type connState struct {
	id  int64
	seq atomic.Int64
}

type ctxKey struct{}

type hello struct {
	Message string `json:"message"`
	Task    int64  `json:"task"`
	Proc    int    `json:"proc"`
	Conn    int64  `json:"conn"`
	Request int64  `json:"request"`
}

func root(w http.ResponseWriter, r *http.Request) {
	cs := r.Context().Value(ctxKey{}).(*connState)
	// Go does not expose goroutine ids or Ps: task 0, proc -1.
	writeJSON(w, 200, hello{"hello from Go net/http", 0, -1, cs.id, cs.seq.Load()})
}

func echo(w http.ResponseWriter, r *http.Request) {
	h := fnv.New32a()
	n, err := io.Copy(h, r.Body)
	if err != nil {
		httpError(w, 413, "request body too large")
		return
	}
	chunked := len(r.TransferEncoding) > 0 && r.TransferEncoding[0] == "chunked"
	writeJSON(w, 200, struct {
		Bytes   int64  `json:"bytes"`
		FNV     string `json:"fnv1a32"`
		Chunked bool   `json:"chunked"`
	}{n, fmt.Sprintf("%08x", h.Sum32()), chunked})
}

// --- /fanout: fan-out/fan-in with a deadline -------------------------------

type fanTask struct {
	Task      int     `json:"task"`
	BackendMs float64 `json:"backend_ms"`
	InTime    bool    `json:"in_time"`
	Proc      int     `json:"proc"`
}

func fanout(w http.ResponseWriter, r *http.Request) {
	n, ok := queryInt(w, r, "n", 10, 1, 10000)
	if !ok {
		return
	}
	timeoutMs, ok := queryInt(w, r, "timeout_ms", 50, 1, 10000)
	if !ok {
		return
	}
	timeout := time.Duration(timeoutMs) * time.Millisecond
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	planned := make([]time.Duration, n)
	for i := range planned {
		planned[i] = time.Duration(rng.Int63n(int64(2 * timeout)))
	}
	results := make(chan int, n) // buffered: late senders never block
	start := time.Now()
	for i := 0; i < n; i++ {
		go func(i int) {
			t := time.NewTimer(planned[i])
			defer t.Stop()
			select {
			case <-t.C:
				results <- i
			case <-ctx.Done():
			}
		}(i)
	}
	tasks := make([]fanTask, n)
	for i := range tasks {
		tasks[i] = fanTask{i, float64(planned[i]) / 1e6, false, -1}
	}
	finished := 0
loop:
	for finished < n {
		select {
		case i := <-results:
			tasks[i].InTime = true
			finished++
		case <-ctx.Done():
			break loop
		}
	}
	elapsed := time.Since(start)
	if len(tasks) > 100 {
		tasks = tasks[:100]
	}
	writeJSON(w, 200, struct {
		N         int       `json:"n"`
		TimeoutMs int       `json:"timeout_ms"`
		Finished  int       `json:"finished"`
		TimedOut  int       `json:"timed_out"`
		ElapsedMs float64   `json:"elapsed_ms"`
		Tasks     []fanTask `json:"tasks"`
	}{n, timeoutMs, finished, n - finished, float64(elapsed) / 1e6, tasks})
}

// --- /pipeline: stages joined by channels ----------------------------------

type stage struct {
	Stage string `json:"stage"`
	Items int    `json:"items"`
	Proc  int    `json:"proc"`
}

func pipeline(w http.ResponseWriter, r *http.Request) {
	n, ok := queryInt(w, r, "n", 100, 1, 1000000)
	if !ok {
		return
	}
	start := time.Now()
	gen := func(n int) <-chan int {
		out := make(chan int, 16)
		go func() {
			for i := 1; i <= n; i++ {
				out <- i
			}
			close(out)
		}()
		return out
	}
	sq := func(in <-chan int) <-chan int {
		out := make(chan int, 16)
		go func() {
			for v := range in {
				out <- v * v
			}
			close(out)
		}()
		return out
	}
	var sum uint64
	items := 0
	for v := range sq(gen(n)) {
		sum += uint64(v)
		items++
	}
	writeJSON(w, 200, struct {
		N         int     `json:"n"`
		Sum       uint64  `json:"sum_of_squares"`
		ElapsedMs float64 `json:"elapsed_ms"`
		Stages    []stage `json:"stages"`
	}{n, sum, float64(time.Since(start)) / 1e6, []stage{
		{"generate", n, -1}, {"square", n, -1}, {"sum", items, -1}}})
}

// --- /pool: a bounded worker pool with backpressure ------------------------

type job struct {
	work   time.Duration
	queued time.Time
	done   chan jobDone
}

type jobDone struct {
	worker int
	waited time.Duration
}

var jobs = make(chan job, poolQueueCap)

func poolWorker(id int) {
	for j := range jobs {
		waited := time.Since(j.queued)
		time.Sleep(j.work)
		j.done <- jobDone{id, waited} // buffered for the whole batch
	}
}

func pool(w http.ResponseWriter, r *http.Request) {
	n, ok := queryInt(w, r, "jobs", 4, 1, 1000)
	if !ok {
		return
	}
	ms, ok := queryInt(w, r, "ms", 10, 0, 1000)
	if !ok {
		return
	}
	start := time.Now()
	done := make(chan jobDone, n)
	accepted := 0
submit:
	for ; accepted < n; accepted++ {
		select {
		case jobs <- job{time.Duration(ms) * time.Millisecond, time.Now(), done}:
		default: // full: push back
			break submit
		}
	}
	status := 200
	errMsg := ""
	byWorker := make([]int, poolWorkers)
	var maxWait time.Duration
	finished := 0
	if accepted < n {
		status = 503
		errMsg = "queue full: try again later"
		w.Header().Set("Retry-After", "1")
	} else {
		for finished < n {
			select {
			case d := <-done:
				finished++
				byWorker[d.worker]++
				if d.waited > maxWait {
					maxWait = d.waited
				}
			case <-r.Context().Done():
				httpError(w, 503, "cancelled: the server is shutting down")
				return
			}
		}
	}
	writeJSON(w, status, struct {
		Error     string  `json:"error,omitempty"`
		Jobs      int     `json:"jobs"`
		Accepted  int     `json:"accepted"`
		Done      int     `json:"done"`
		Workers   int     `json:"workers"`
		QueueCap  int     `json:"queue_cap"`
		QueuedNow int     `json:"queued_now"`
		MaxWaitMs float64 `json:"max_wait_ms"`
		ElapsedMs float64 `json:"elapsed_ms"`
		ByWorker  []int   `json:"by_worker"`
	}{errMsg, n, accepted, finished, poolWorkers, poolQueueCap, len(jobs),
		float64(maxWait) / 1e6, float64(time.Since(start)) / 1e6, byWorker})
}

// --- /ratelimit: a token bucket shared by every connection -----------------

var tokens chan struct{}

func refill(rate int) {
	for range time.Tick(time.Second / time.Duration(rate)) {
		select {
		case tokens <- struct{}{}:
		default: // bucket full
		}
	}
}

func ratelimit(w http.ResponseWriter, r *http.Request) {
	status := 200
	allowed := true
	select {
	case <-tokens:
	default:
		allowed = false
		status = 429
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, struct {
		Allowed    bool `json:"allowed"`
		TokensLeft int  `json:"tokens_left"`
		Rate       int  `json:"rate_per_s"`
		Burst      int  `json:"burst"`
	}{allowed, len(tokens), *rate, *burst})
}

// --- /sleep: a request that waits ------------------------------------------

var sleepers atomic.Int64

func sleep(w http.ResponseWriter, r *http.Request) {
	ms, ok := queryInt(w, r, "ms", 100, 0, 60000)
	if !ok {
		return
	}
	now := sleepers.Add(1)
	start := time.Now()
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	select {
	case <-t.C:
	case <-r.Context().Done():
		t.Stop()
		sleepers.Add(-1)
		httpError(w, 503, "cancelled: the server is shutting down")
		return
	}
	sleepers.Add(-1)
	writeJSON(w, 200, struct {
		SleptMs   int     `json:"slept_ms"`
		ActualMs  float64 `json:"actual_ms"`
		Sleepers  int64   `json:"sleepers_when_started"`
		TasksLive int     `json:"tasks_live"`
		Workers   int     `json:"workers"`
		Proc      int     `json:"proc"`
	}{ms, float64(time.Since(start)) / 1e6, now, runtime.NumGoroutine(),
		pprof.Lookup("threadcreate").Count(), -1})
}

// --- /cancel: work that stops when its client leaves -----------------------

func cancelWork(w http.ResponseWriter, r *http.Request) {
	ms, ok := queryInt(w, r, "ms", 1000, 1, 60000)
	if !ok {
		return
	}
	ctx := r.Context() // net/http cancels it when the client leaves
	start := time.Now()
	step := time.Duration(ms) * time.Millisecond / 10
	steps := 0
	for ; steps < 10; steps++ {
		t := time.NewTimer(step)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			cs := ctx.Value(ctxKey{}).(*connState)
			clientGone.Add(1)
			log.Printf("conn %d: client left after %.1f ms; /cancel work stopped after %d of 10 steps",
				cs.id, float64(time.Since(start))/1e6, steps)
			return
		}
	}
	writeJSON(w, 200, struct {
		Ms        int     `json:"ms"`
		Completed bool    `json:"completed"`
		Steps     int     `json:"steps"`
		ElapsedMs float64 `json:"elapsed_ms"`
		Gone      int64   `json:"client_gone_total"`
	}{ms, true, steps, float64(time.Since(start)) / 1e6, clientGone.Load()})
}

// --- /stats and /metrics ---------------------------------------------------

func procStatus() (rssKB, threads int64) {
	rssKB, threads = -1, -1
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "VmRSS:":
			rssKB, _ = strconv.ParseInt(fields[1], 10, 64)
		case "Threads:":
			threads, _ = strconv.ParseInt(fields[1], 10, 64)
		}
	}
	return
}

type procStats struct {
	Proc       int `json:"proc"`
	TasksRun   int `json:"tasks_run"`
	Spawned    int `json:"spawned"`
	Steals     int `json:"steals"`
	Stolen     int `json:"stolen"`
	Yields     int `json:"yields"`
	GlobalGets int `json:"global_gets"`
	RunqLen    int `json:"runq_len"`
	Syscalls   int `json:"syscalls"`
	Handoffs   int `json:"handoffs"`
}

func stats(w http.ResponseWriter, r *http.Request) {
	type sched struct {
		Procs           int    `json:"procs"`
		Workers         int    `json:"workers"`
		IdleProcs       int    `json:"idle_procs"`
		TasksLive       int    `json:"tasks_live"`
		TasksSpawned    int    `json:"tasks_spawned"`
		WorkerParks     int    `json:"worker_parks"`
		WorkerWakes     int    `json:"worker_wakes"`
		StackSize       int    `json:"stack_size"`
		StacksGuarded   int    `json:"stacks_guarded"`
		StacksUnguarded int    `json:"stacks_unguarded"`
		Parker          string `json:"parker"`
		Poller          string `json:"poller"`
		PollerFeatures  string `json:"poller_features"`
	}
	type srv struct {
		ConnsOpen      int64 `json:"connections_open"`
		ConnsTotal     int64 `json:"connections_total"`
		Requests       int64 `json:"requests"`
		InFlight       int64 `json:"in_flight"`
		HeaderTimeouts int64 `json:"header_timeouts"`
		IdleClosed     int64 `json:"idle_closed"`
		ClientGone     int64 `json:"client_gone"`
	}
	type proc struct {
		RSS     int64 `json:"rss_kb"`
		Threads int64 `json:"threads"`
		Pid     int   `json:"pid"`
	}
	n := runtime.GOMAXPROCS(0)
	ps := make([]procStats, n)
	for i := range ps {
		ps[i].Proc = i
	}
	rss, threads := procStatus()
	writeJSON(w, 200, struct {
		Uptime  float64     `json:"uptime_s"`
		Sched   sched       `json:"scheduler"`
		Procs   []procStats `json:"procs"`
		Server  srv         `json:"server"`
		Process proc        `json:"process"`
	}{time.Since(started).Seconds(),
		sched{Procs: n, Workers: pprof.Lookup("threadcreate").Count(),
			TasksLive: runtime.NumGoroutine(), StackSize: 8192,
			Parker: "futex", Poller: "epoll", PollerFeatures: "netpoll"},
		ps,
		srv{connsOpen.Load(), connsTotal.Load(), requests.Load(), inFlight.Load(), 0, 0, clientGone.Load()},
		proc{rss, threads, os.Getpid()}})
}

// Requests by path and code, and a latency histogram by path: the same
// buckets as the C server's.
var (
	bucketLe = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
		0.025, 0.05, 0.1, 0.25, 0.5, 1, 5}
	mmu     sync.Mutex
	counts  = map[[2]string]int64{}
	hist    = map[string][]int64{}
	histSum = map[string]float64{}
)

func observe(path string, code int, d time.Duration) {
	s := d.Seconds()
	b := sort.SearchFloat64s(bucketLe, s)
	mmu.Lock()
	counts[[2]string{path, strconv.Itoa(code)}]++
	h := hist[path]
	if h == nil {
		h = make([]int64, len(bucketLe)+1)
		hist[path] = h
	}
	h[b]++
	histSum[path] += s
	mmu.Unlock()
}

func metrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	var b strings.Builder
	mmu.Lock()
	b.WriteString("# HELP demo_requests_total Requests answered, by endpoint and status code.\n# TYPE demo_requests_total counter\n")
	keys := make([][2]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1]
	})
	for _, k := range keys {
		fmt.Fprintf(&b, "demo_requests_total{path=%q,code=%q} %d\n", k[0], k[1], counts[k])
	}
	b.WriteString("# HELP demo_request_duration_seconds Time from a parsed request to its answer, by endpoint.\n# TYPE demo_request_duration_seconds histogram\n")
	paths := make([]string, 0, len(hist))
	for p := range hist {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		var cum int64
		for i, c := range hist[p] {
			cum += c
			le := "+Inf"
			if i < len(bucketLe) {
				le = strconv.FormatFloat(bucketLe[i], 'g', -1, 64)
			}
			fmt.Fprintf(&b, "demo_request_duration_seconds_bucket{path=%q,le=%q} %d\n", p, le, cum)
		}
		fmt.Fprintf(&b, "demo_request_duration_seconds_sum{path=%q} %.9f\n", p, histSum[p])
		fmt.Fprintf(&b, "demo_request_duration_seconds_count{path=%q} %d\n", p, cum)
	}
	mmu.Unlock()
	gauge := func(name, typ, help string, v int64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n%s %d\n", name, help, name, typ, name, v)
	}
	gauge("demo_connections_open", "gauge", "Connections open now (a goroutine each).", connsOpen.Load())
	gauge("demo_connections_total", "counter", "Connections accepted.", connsTotal.Load())
	gauge("demo_requests_in_flight", "gauge", "Requests being handled now.", inFlight.Load())
	gauge("demo_client_gone_total", "counter", "Requests whose work was cancelled because the client left.", clientGone.Load())
	gauge("go_goroutines", "gauge", "Goroutines that exist now.", int64(runtime.NumGoroutine()))
	gauge("go_threads", "gauge", "OS threads created.", int64(pprof.Lookup("threadcreate").Count()))
	io.WriteString(w, b.String())
}

// --- routing, limits, metrics ----------------------------------------------

type route struct {
	method string // GET (HEAD too) or POST
	fn     http.HandlerFunc
}

var routes = map[string]route{
	"/":          {"GET", root},
	"/fanout":    {"GET", fanout},
	"/pipeline":  {"GET", pipeline},
	"/pool":      {"GET", pool},
	"/ratelimit": {"GET", ratelimit},
	"/sleep":     {"GET", sleep},
	"/cancel":    {"GET", cancelWork},
	"/stats":     {"GET", stats},
	"/metrics":   {"GET", metrics},
	"/echo":      {"POST", echo},
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	requests.Add(1)
	inFlight.Add(1)
	defer inFlight.Add(-1)
	cs := r.Context().Value(ctxKey{}).(*connState)
	cs.seq.Add(1)
	sw := &statusWriter{w, 200}
	path := r.URL.Path
	rt, ok := routes[path]
	if !ok {
		path = "other"
	}
	defer func() {
		if errors.Is(r.Context().Err(), context.Canceled) && sw.status == 200 && path == "/cancel" {
			sw.status = 499
		}
		observe(path, sw.status, time.Since(start))
		if *accessLog {
			log.Printf("conn %d #%d %s %s -> %d in %.3f ms", cs.id, cs.seq.Load(), r.Method, r.URL.RequestURI(), sw.status, float64(time.Since(start))/1e6)
		}
	}()
	// The body limit applies to every request, as in the C server.
	if r.ContentLength > maxBody {
		httpError(sw, 413, "request body too large")
		return
	}
	r.Body = http.MaxBytesReader(sw, r.Body, maxBody)
	if !ok {
		httpError(sw, 404, "no such path: "+r.URL.Path)
		return
	}
	if r.Method != rt.method && !(r.Method == "HEAD" && rt.method == "GET") {
		if rt.method == "GET" {
			sw.Header().Set("Allow", "GET, HEAD")
		} else {
			sw.Header().Set("Allow", "POST")
		}
		httpError(sw, 405, fmt.Sprintf("method not allowed: %s %s", r.Method, r.URL.Path))
		return
	}
	if rt.method != "POST" {
		// Read and count the body (chunked too) against the limit.
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			httpError(sw, 413, "request body too large")
			return
		}
	}
	rt.fn(sw, r)
}

func main() {
	flag.Parse()
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	tokens = make(chan struct{}, *burst)
	for i := 0; i < *burst; i++ {
		tokens <- struct{}{}
	}
	go refill(*rate)
	for i := 0; i < poolWorkers; i++ {
		go poolWorker(i)
	}
	ln, err := net.Listen("tcp4", *listen)
	if err != nil {
		log.Fatal(err)
	}
	var nextConn atomic.Int64
	srv := &http.Server{
		Handler:           http.HandlerFunc(serve),
		ReadHeaderTimeout: time.Duration(*headerTimeout) * time.Millisecond,
		IdleTimeout:       time.Duration(*idleTimeout) * time.Millisecond,
		MaxHeaderBytes:    4096, // + Go's 4096 of slack: 8 KiB
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, ctxKey{}, &connState{id: nextConn.Add(1)})
		},
		ConnState: func(c net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				connsOpen.Add(1)
				connsTotal.Add(1)
			case http.StateClosed, http.StateHijacked:
				connsOpen.Add(-1)
			}
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	fmt.Printf("demo-go: listening on http://%s (GOMAXPROCS %d); pid %d\n",
		ln.Addr(), runtime.GOMAXPROCS(0), os.Getpid())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			log.Fatal(err)
		}
	}()
	<-ctx.Done()
	fmt.Printf("demo-go: shutting down (in-flight requests get up to %d ms)\n", *drainMs)
	sctx, cancel := context.WithTimeout(context.Background(), time.Duration(*drainMs)*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close() // the bound passed: cancel what is left
		fmt.Println("demo-go: stopped (some requests cancelled at the bound)")
		return
	}
	fmt.Printf("demo-go: stopped cleanly: %d requests on %d connections\n", requests.Load(), connsTotal.Load())
}
