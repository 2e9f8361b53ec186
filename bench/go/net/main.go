// bench/go/net/main.go: Go's side of bench/net.lua, with GOMAXPROCS=1 (one
// P, as a goro universe has). `echo`: echo every byte on each conn.
// `idle N`: accept N conns, each goroutine parked in Read, then print
// "rss_per_conn <bytes>" (the RSS grown since before the first accept).
// `http`: net/http serving the page examples/httpd.lua serves at "/".
// Prints "listening on <addr>" first.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"time"
)

const page = `<!doctype html>
<html><head><title>goro</title></head>
<body><h1>Hello from goro</h1><p>One goroutine per connection.</p></body>
</html>
`

func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, res int64
	fmt.Sscan(string(b), &size, &res)
	return res * int64(os.Getpagesize())
}

func main() {
	runtime.GOMAXPROCS(1)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Printf("listening on %s\n", l.Addr())
	if len(os.Args) > 1 && os.Args[1] == "http" {
		http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, page)
		})
		panic(http.Serve(l, nil))
	}
	if len(os.Args) > 2 && os.Args[1] == "idle" {
		n, _ := strconv.Atoi(os.Args[2])
		runtime.GC()
		before := rss()
		for i := 0; i < n; i++ {
			c, err := l.Accept()
			if err != nil {
				panic(err)
			}
			go func(c net.Conn) {
				b := make([]byte, 64)
				c.Read(b)
				c.Close()
			}(c)
		}
		time.Sleep(200 * time.Millisecond)
		runtime.GC()
		fmt.Printf("rss_per_conn %d\n", (rss()-before)/int64(n))
		time.Sleep(time.Hour)
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func(c net.Conn) {
			io.Copy(c, c)
			c.Close()
		}(c)
	}
}
