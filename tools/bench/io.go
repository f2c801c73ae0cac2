// SPDX-License-Identifier: MIT
//
// io.go - Go's side of the I/O metrics of `make bench`: the same work as
// tools/bench/io.c, metric for metric, with goroutines and the netpoller.
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

func ioDie(what string, err error) {
	fmt.Fprintf(os.Stderr, "bench-go: %s: %v\n", what, err)
	os.Exit(1)
}

// echo: conns loopback TCP connections, a server and a client goroutine
// each; n round trips of 64 bytes in all. ns per round trip, timed once
// every connection is up. (Go sets TCP_NODELAY by default, as io.c does.)
func echo(conns, n int) float64 {
	const msg = 64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ioDie("listen", err)
	}
	defer ln.Close()
	go func() {
		for i := 0; i < conns; i++ {
			c, err := ln.Accept()
			if err != nil {
				ioDie("accept", err)
			}
			go func(c net.Conn) {
				buf := make([]byte, msg)
				for {
					r, err := c.Read(buf)
					if r > 0 {
						if _, err := c.Write(buf[:r]); err != nil {
							ioDie("server write", err)
						}
					}
					if err != nil {
						break
					}
				}
				c.Close()
			}(c)
		}
	}()
	rounds := n / conns
	var up, done sync.WaitGroup
	gate := make(chan struct{})
	up.Add(conns)
	done.Add(conns)
	for i := 0; i < conns; i++ {
		go func() {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				ioDie("dial", err)
			}
			out := make([]byte, msg)
			in := make([]byte, msg)
			up.Done()
			<-gate
			for r := 0; r < rounds; r++ {
				if _, err := c.Write(out); err != nil {
					ioDie("client write", err)
				}
				if _, err := io.ReadFull(c, in); err != nil {
					ioDie("client read", err)
				}
			}
			c.Close()
			done.Done()
		}()
	}
	up.Wait()
	t0 := time.Now()
	close(gate)
	done.Wait()
	return float64(time.Since(t0).Nanoseconds()) / float64(conns*rounds)
}

func cpuNs() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano() + ru.Stime.Nano())
}

// sleepers: n goroutines each sleep 1 ms, rounds times, timed from when
// all have started (blocked on a gate). "cpu": process CPU ns per sleep;
// "wall": ms for all of it.
func sleepers(n, rounds int, what string) float64 {
	var up, wg sync.WaitGroup
	gate := make(chan struct{})
	up.Add(n)
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			up.Done()
			<-gate
			for r := 0; r < rounds; r++ {
				time.Sleep(time.Millisecond)
			}
			wg.Done()
		}()
	}
	up.Wait()
	t0 := time.Now()
	c0 := cpuNs()
	close(gate)
	wg.Wait()
	if what == "cpu" {
		return (cpuNs() - c0) / float64(n*rounds)
	}
	return float64(time.Since(t0).Nanoseconds()) / 1e6
}

// benchIO runs the metrics of io.c; false if args name none of them.
func benchIO(a []string) bool {
	switch {
	case len(a) == 4 && a[1] == "echo":
		c, n := atoi(a[2]), atoi(a[3])
		if n < c {
			fmt.Fprintln(os.Stderr, "bench-go: echo CONNS N, CONNS <= N")
			os.Exit(2)
		}
		fmt.Printf("%.1f\n", echo(c, n))
	case len(a) == 5 && a[1] == "sleepers" && (a[4] == "cpu" || a[4] == "wall"):
		fmt.Printf("%.1f\n", sleepers(atoi(a[2]), atoi(a[3]), a[4]))
	default:
		return false
	}
	return true
}
