module goro/bench/cgo

go 1.23
