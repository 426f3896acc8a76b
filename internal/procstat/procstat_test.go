package procstat

import (
	"os"
	"testing"
	"time"
)

func TestMeter(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	var m Meter
	if _, ok := m.Sample([]Proc{{PID: 1, Start: 5, Ticks: 100}}, t0); ok {
		t.Fatal("the first sample has nothing to compare with")
	}
	// pid 1 used 50 ticks (0.5 s) in 1 s; pid 2 is new with 30 ticks; pid 3 (a reused pid 1
	// would look like this) counts from zero.
	cores, ok := m.Sample([]Proc{{PID: 1, Start: 5, Ticks: 150}, {PID: 2, Start: 9, Ticks: 30}}, t0.Add(time.Second))
	if !ok || cores < 0.79 || cores > 0.81 {
		t.Fatalf("cores = %v, want 0.8", cores)
	}
	cores, _ = m.Sample([]Proc{{PID: 1, Start: 7, Ticks: 10}}, t0.Add(2*time.Second))
	if cores < 0.09 || cores > 0.11 {
		t.Fatalf("a reused pid: cores = %v, want 0.1 (its own ticks only)", cores)
	}
}

// TestScanSeesThisProcess: /proc is read as the kernel shows it (this process, its uid,
// its parent).
func TestScanSeesThisProcess(t *testing.T) {
	all := Scan()
	me := Tree(all, os.Getpid())
	if len(me) == 0 || me[0].UID != os.Getuid() || me[0].PPID != os.Getppid() {
		t.Fatalf("this process in the scan: %+v", me)
	}
	if len(OfUID(all, os.Getuid())) == 0 {
		t.Fatal("no process of this uid")
	}
}
