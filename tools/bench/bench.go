// SPDX-License-Identifier: MIT
//
// bench.go - Go's side of `make bench`: the same work as tools/bench/main.c,
// metric for metric. GOMAXPROCS sets the processors. Prints ns per op.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func spawn(rounds, n int) float64 {
	var wg sync.WaitGroup
	t0 := time.Now()
	for r := 0; r < rounds; r++ {
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() { wg.Done() }()
		}
		wg.Wait()
	}
	return float64(time.Since(t0).Nanoseconds()) / float64(rounds*n)
}

func yield(n int) float64 {
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(1)
	go func() {
		for i := 0; i < n; i++ {
			runtime.Gosched()
		}
		wg.Done()
	}()
	for i := 0; i < n; i++ {
		runtime.Gosched()
	}
	wg.Wait()
	return float64(time.Since(t0).Nanoseconds()) / float64(2*n)
}

// handoff: one goroutine blocks in a raw read(2) on a pipe (a real
// syscall, not the netpoller); how long until another goroutine runs.
// Median ns of n rounds.
func handoff(n int) float64 {
	var fd [2]int
	if err := syscall.Pipe(fd[:]); err != nil {
		panic(err)
	}
	var round atomic.Int64
	var blockedAt atomic.Int64
	lat := make([]float64, n)
	t0 := time.Now()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		for i := 1; i <= n; i++ {
			for round.Load() != int64(i) {
				runtime.Gosched()
			}
			lat[i-1] = float64(time.Since(t0).Nanoseconds() - blockedAt.Load())
			syscall.Write(fd[1], []byte{'x'})
		}
		wg.Done()
	}()
	go func() {
		b := make([]byte, 1)
		for i := 1; i <= n; i++ {
			blockedAt.Store(time.Since(t0).Nanoseconds())
			round.Store(int64(i))
			syscall.Read(fd[0], b)
		}
		wg.Done()
	}()
	wg.Wait()
	sort.Float64s(lat)
	return lat[n/2]
}

func atoi(s string) int {
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 {
		fmt.Fprintln(os.Stderr, "bench-go: counts must be positive")
		os.Exit(2)
	}
	return v
}

func main() {
	a := os.Args
	switch {
	case len(a) == 4 && a[1] == "spawn":
		fmt.Printf("%.1f\n", spawn(atoi(a[2]), atoi(a[3])))
	case len(a) == 3 && a[1] == "yield":
		fmt.Printf("%.1f\n", yield(atoi(a[2])))
	case len(a) == 3 && a[1] == "handoff":
		fmt.Printf("%.1f\n", handoff(atoi(a[2])))
	case benchIO(a): // io.go
	case benchChan(a): // chan.go
	case benchSync(a): // sync.go
	default:
		fmt.Fprintln(os.Stderr, "usage: bench-go spawn ROUNDS N | bench-go yield N | bench-go handoff N")
		os.Exit(2)
	}
}
