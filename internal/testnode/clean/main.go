// Command clean lists what a test node (internal/testnode) left on this machine and, with
// -teardown, removes it (e.g. after a test process was killed while its node ran):
//
//	go run ./internal/testnode/clean [-teardown] [-binaries DIR]
//
// Exit status 1 when something is (still) left.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/codehub-dev/codehub/internal/testnode"
)

func main() {
	teardown := flag.Bool("teardown", false, "remove what is left (takes the node lock)")
	binaries := flag.String("binaries", os.Getenv("KUBEBUILDER_ASSETS"), "directory with kube-proxy (for kube-proxy --cleanup)")
	flag.Parse()
	left := testnode.Leftovers()
	if *teardown && len(left) > 0 {
		var err error
		left, err = testnode.Clean(testnode.Options{Binaries: *binaries, Logf: log.Printf})
		if err != nil {
			log.Printf("teardown: %v", err)
		}
	}
	for _, l := range left {
		fmt.Println(l)
	}
	if len(left) > 0 {
		os.Exit(1)
	}
}
