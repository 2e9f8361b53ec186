// bench/go/sched.go: Go's side of bench/sched.lua, with GOMAXPROCS=1 (one P,
// as a goro universe has). Prints one "name value" line per figure.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

var rounds = 5

func best(n int, f func(n int)) float64 {
	f(n / 10)
	b := 1e30
	for r := 0; r < rounds; r++ {
		t := time.Now()
		f(n)
		ns := float64(time.Since(t).Nanoseconds()) / float64(n)
		if ns < b {
			b = ns
		}
	}
	return b
}

func rss() float64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, res int64
	fmt.Sscan(string(b), &size, &res)
	return float64(res * int64(os.Getpagesize()))
}

// group is what x/sync's errgroup does with a context (the module is not
// fetched here): a WaitGroup, the first error, the context it cancels.
type group struct {
	wg     sync.WaitGroup
	once   sync.Once
	err    error
	cancel context.CancelFunc
}

func (g *group) Go(f func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := f(); err != nil {
			g.once.Do(func() { g.err = err; g.cancel() })
		}
	}()
}

func (g *group) Wait() error {
	g.wg.Wait()
	g.cancel()
	return g.err
}

func main() {
	runtime.GOMAXPROCS(1)
	n := 1000000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	if len(os.Args) > 2 {
		rounds, _ = strconv.Atoi(os.Args[2])
	}

	fmt.Printf("yield %.1f\n", best(n, func(n int) {
		done := make(chan bool)
		go func() {
			for i := 0; i < n; i++ {
				runtime.Gosched()
			}
			done <- true
		}()
		for i := 0; i < n; i++ {
			runtime.Gosched()
		}
		<-done
	}))

	fmt.Printf("pingpong %.1f\n", best(n, func(n int) {
		a, b := make(chan int), make(chan int)
		go func() {
			for i := 0; i < n; i++ {
				b <- <-a
			}
		}()
		for i := 0; i < n; i++ {
			a <- i
			<-b
		}
	}))

	fmt.Printf("timeout %.1f\n", best(n, func(n int) {
		ch := make(chan int, 1)
		for i := 0; i < n; i++ {
			ch <- i
			select {
			case <-ch:
			case <-time.After(time.Second):
			}
		}
	}))

	fmt.Printf("spawn %.1f\n", best(n, func(n int) {
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() { wg.Done() }()
		}
		wg.Wait()
	}))

	fmt.Printf("ctxcancel %.1f\n", best(n, func(n int) {
		parent, cancelParent := context.WithCancel(context.Background())
		for i := 0; i < n; i++ {
			_, cancel := context.WithCancel(parent)
			cancel()
		}
		cancelParent()
	}))

	fmt.Printf("ctxselect %.1f\n", best(n, func(n int) {
		ctx, cancel := context.WithCancel(context.Background())
		ch := make(chan int, 1)
		for i := 0; i < n; i++ {
			ch <- i
			select {
			case <-ch:
			case <-ctx.Done():
			}
		}
		cancel()
	}))

	fmt.Printf("rwlock %.1f\n", best(n, func(n int) {
		var rw sync.RWMutex
		for i := 0; i < n; i++ {
			rw.RLock()
			rw.RUnlock()
		}
	}))

	fmt.Printf("once %.1f\n", best(n, func(n int) {
		var o sync.Once
		f := func() {}
		o.Do(f)
		for i := 0; i < n; i++ {
			o.Do(f)
		}
	}))

	fmt.Printf("scope %.1f\n", 1000*best(n, func(n int) {
		f := func() error { return nil }
		for j := 0; j < n/1000; j++ {
			ctx, cancel := context.WithCancel(context.Background())
			g := &group{cancel: cancel}
			_ = ctx
			for i := 0; i < 1000; i++ {
				g.Go(f)
			}
			g.Wait()
		}
	}))

	const parked = 100000
	runtime.GC()
	before := rss()
	ch := make(chan int)
	var wg sync.WaitGroup
	for i := 0; i < parked; i++ {
		wg.Add(1)
		go func() { <-ch; wg.Done() }()
	}
	runtime.Gosched()
	runtime.GC()
	after := rss()
	fmt.Printf("parked_bytes %.0f\n", (after-before)/parked)
	close(ch)
	wg.Wait()
}
