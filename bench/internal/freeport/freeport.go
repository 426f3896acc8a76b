// Package freeport picks loopback ports for the processes a benchmark starts.
package freeport

import "net"

// Get returns a TCP port on 127.0.0.1 that was free a moment ago (the listener that found
// it is closed, so the process started next can bind it). It panics when none can be had:
// a benchmark cannot run without one.
func Get() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
