// SPDX-License-Identifier: MIT
//
// bench.go - Go's side of `make bench`: the same work as tools/bench/main.c,
// metric for metric. GOMAXPROCS sets the processors. Prints ns per op.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
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
	default:
		fmt.Fprintln(os.Stderr, "usage: bench-go spawn ROUNDS N | bench-go yield N")
		os.Exit(2)
	}
}
