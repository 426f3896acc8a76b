// Package elapsed gives the benchmark programs their progress lines on stderr, each stamped
// with the seconds since the program started, so a slow phase stands out in a long run.
package elapsed

import (
	"fmt"
	"os"
	"time"
)

var start = time.Now()

// Since is the time since the program started.
func Since() time.Duration { return time.Since(start) }

// Logger prints "[name  12.3s] message" lines.
func Logger(name string) func(format string, args ...any) {
	return func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "[%s %7.1fs] %s\n", name, Since().Seconds(), fmt.Sprintf(format, args...))
	}
}
