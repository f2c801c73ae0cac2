// SPDX-License-Identifier: MIT
//
// chan.go - Go's side of the channel benchmarks (tools/bench/chan.c),
// metric for metric: pingpong, buffered, select4, parkmem.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

func pingpong(n int) float64 {
	a, b := make(chan int), make(chan int)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		for i := 0; i < n; i++ {
			v := <-a
			b <- v
		}
		wg.Done()
	}()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		a <- i
		<-b
	}
	r := float64(time.Since(t0).Nanoseconds()) / float64(n)
	wg.Wait()
	return r
}

func buffered(p, c, capacity, n int) float64 {
	ch := make(chan int, capacity)
	var pwg, cwg sync.WaitGroup
	per := n / p
	t0 := time.Now()
	cwg.Add(c)
	for i := 0; i < c; i++ {
		go func() {
			for range ch {
			}
			cwg.Done()
		}()
	}
	pwg.Add(p)
	for i := 0; i < p; i++ {
		go func() {
			for j := 0; j < per; j++ {
				ch <- j
			}
			pwg.Done()
		}()
	}
	pwg.Wait()
	close(ch)
	cwg.Wait()
	return float64(time.Since(t0).Nanoseconds()) / float64(per*p)
}

func select4(n int) float64 {
	var ch [4]chan int
	var wg sync.WaitGroup
	per := n / 4
	for k := range ch {
		ch[k] = make(chan int)
	}
	wg.Add(4)
	t0 := time.Now()
	for k := range ch {
		go func(c chan int) {
			for i := 0; i < per; i++ {
				c <- i
			}
			wg.Done()
		}(ch[k])
	}
	for i := 0; i < per*4; i++ {
		select {
		case <-ch[0]:
		case <-ch[1]:
		case <-ch[2]:
		case <-ch[3]:
		}
	}
	r := float64(time.Since(t0).Nanoseconds()) / float64(per*4)
	wg.Wait()
	return r
}

func rssBytes() int64 {
	var size, resident int64
	f, err := os.Open("/proc/self/statm")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	if _, err := fmt.Fscan(f, &size, &resident); err != nil {
		panic(err)
	}
	return resident * int64(os.Getpagesize())
}

func parkmem(n int) float64 {
	ch := make(chan int)
	var up, done sync.WaitGroup
	runtime.GC()
	before := rssBytes()
	up.Add(n)
	done.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			up.Done()
			<-ch
			done.Done()
		}()
	}
	up.Wait()
	for i := 0; i < 100; i++ {
		runtime.Gosched()
	}
	r := float64(rssBytes()-before) / float64(n)
	close(ch)
	done.Wait()
	return r
}

// benchChan runs the metric named in a, if it is one of ours.
func benchChan(a []string) bool {
	switch {
	case len(a) == 3 && a[1] == "pingpong":
		fmt.Printf("%.1f\n", pingpong(atoi(a[2])))
	case len(a) == 6 && a[1] == "buffered":
		fmt.Printf("%.1f\n", buffered(atoi(a[2]), atoi(a[3]),
			atoi(a[4]), atoi(a[5])))
	case len(a) == 3 && a[1] == "select4":
		fmt.Printf("%.1f\n", select4(atoi(a[2])))
	case len(a) == 3 && a[1] == "parkmem":
		fmt.Printf("%.1f\n", parkmem(atoi(a[2])))
	default:
		return false
	}
	return true
}
