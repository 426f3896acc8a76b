// Command pause is the test node's pod sandbox ("pause") container: it holds the pod's
// namespaces, reaps the children it inherits as PID 1, and exits 0 on SIGTERM or SIGINT.
// Built static (CGO_ENABLED=0) and packaged as registry.k8s.io/pause by internal/testnode,
// so containerd never pulls a sandbox image.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			if pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
