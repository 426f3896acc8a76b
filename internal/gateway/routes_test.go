package gateway

import (
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/codehub-dev/codehub/internal/backend"
)

func testRoute(user string, ws backend.Workspace) *route {
	return &route{ref: backend.Default(user), endpoint: ws.Endpoint, credential: ws.Credential, transport: &http.Transport{}}
}

func TestRouteTable(t *testing.T) {
	var table routeTable
	first := backend.Workspace{Endpoint: &url.URL{Scheme: "unix", Path: "/run/a.sock"}, Credential: "one"}
	restarted := backend.Workspace{Endpoint: first.Endpoint, Credential: "two"}
	made := 0
	fresh := func(ws backend.Workspace) func() *route {
		return func() *route { made++; return testRoute("alice", ws) }
	}

	a := table.put(backend.Default("alice"), first, fresh(first))
	if again := table.put(backend.Default("alice"), first, fresh(first)); again != a || made != 1 {
		t.Fatalf("same workspace: got a new route (made %d)", made)
	}
	b := table.put(backend.Default("alice"), restarted, fresh(restarted))
	if b == a {
		t.Fatal("a restarted workspace (new credential) kept the old route")
	}
	if got, _ := table.get(backend.Default("alice")); got != b {
		t.Fatal("the table does not hold the replacement route")
	}

	table.dropStale(a) // a request still on the old route fails: the new one must stay
	if got, ok := table.get(backend.Default("alice")); !ok || got != b {
		t.Fatal("dropping a stale route removed its replacement")
	}
	if rt, ok := table.drop(backend.Default("alice")); !ok || rt != b {
		t.Fatal("drop did not return the current route")
	}
	if _, ok := table.get(backend.Default("alice")); ok {
		t.Fatal("route still there after drop")
	}
}

func TestRouteTableConcurrentPutsAgree(t *testing.T) {
	var table routeTable
	ws := backend.Workspace{Endpoint: &url.URL{Scheme: "unix", Path: "/run/a.sock"}, Credential: "one"}
	const n = 32
	got := make([]*route, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = table.put(backend.Default("alice"), ws, func() *route { return testRoute("alice", ws) })
		}()
	}
	wg.Wait()
	for i := range got {
		if got[i] != got[0] {
			t.Fatalf("put %d returned a different route than put 0: two routes for one workspace", i)
		}
	}
	count := 0
	table.each(func(*route) bool { count++; return true })
	if count != 1 {
		t.Fatalf("table holds %d routes, want 1", count)
	}
}
