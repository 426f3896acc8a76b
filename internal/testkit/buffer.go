package testkit

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer safe for one writer goroutine (a logger, a child process's
// stderr) and a reader (the test) at the same time.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
