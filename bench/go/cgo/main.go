// bench/go/cgo: Go's side of bench/cgo.c. Prints one "name ns" line each:
// an empty cgo call, a C->Go callback from C called by Go, a warm C->Go
// callback from a C pthread, and the first call from a new C thread.
package main

/*
void empty(void);
void loop_callback(int n);
void host_thread_loop(int n);
double first_calls(int n);
*/
import "C"

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

//export goCallback
func goCallback() {}

var rounds = 5

func best(f func() float64) float64 {
	b := 1e30
	for r := 0; r < rounds; r++ {
		if v := f(); v < b {
			b = v
		}
	}
	return b
}

func main() {
	n := 1000000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	if len(os.Args) > 2 {
		rounds, _ = strconv.Atoi(os.Args[2])
	}
	fmt.Printf("cgocall %.1f\n", best(func() float64 {
		t := time.Now()
		for i := 0; i < n; i++ {
			C.empty()
		}
		return float64(time.Since(t).Nanoseconds()) / float64(n)
	}))
	fmt.Printf("callback %.1f\n", best(func() float64 {
		t := time.Now()
		C.loop_callback(C.int(n))
		return float64(time.Since(t).Nanoseconds()) / float64(n)
	}))
	fmt.Printf("hostcall %.1f\n", best(func() float64 {
		t := time.Now()
		C.host_thread_loop(C.int(n))
		return float64(time.Since(t).Nanoseconds()) / float64(n)
	}))
	fmt.Printf("firstcall %.1f\n", float64(C.first_calls(C.int(40*rounds))))
}
