// SPDX-License-Identifier: MIT
//
// sync.go - Go's side of the sync benchmarks (tools/bench/sync.c), metric
// for metric: mutex.
package main

import (
	"fmt"
	"sync"
	"time"
)

// T goroutines each lock a shared sync.Mutex, bump a shared counter and
// unlock, n times. ns per lock+unlock, all goroutines together.
func mutexBench(tasks, n int) float64 {
	var mu sync.Mutex
	var wg sync.WaitGroup
	counter := 0
	t0 := time.Now()
	wg.Add(tasks)
	for t := 0; t < tasks; t++ {
		go func() {
			for i := 0; i < n; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	r := float64(time.Since(t0).Nanoseconds()) / float64(tasks*n)
	if counter != tasks*n {
		panic("mutex lost updates")
	}
	return r
}

func benchSync(a []string) bool {
	if len(a) == 4 && a[1] == "mutex" {
		fmt.Printf("%.1f\n", mutexBench(atoi(a[2]), atoi(a[3])))
		return true
	}
	return false
}
