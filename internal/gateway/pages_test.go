package gateway

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codehub-dev/codehub/internal/backend"
	"github.com/codehub-dev/codehub/internal/identity"
	"github.com/codehub-dev/codehub/internal/profile"
)

// capBackend is the routing fake with the optional capabilities the pages use (profiles,
// deletion) and what the admin page lists (profile, activity, creation), switchable so a
// test sees the pages of a backend without them too.
type capBackend struct {
	*mapBackend
	mu       sync.Mutex
	missing  map[string]bool // users with no workspace (yet, or any more)
	profiles map[string]string
	activity map[string]time.Time
	deletes  map[string]int
	failed   map[string]string // users whose workspace failed to start, and why
}

func newCapBackend(inner *mapBackend) *capBackend {
	return &capBackend{mapBackend: inner, missing: map[string]bool{}, profiles: map[string]string{},
		activity: map[string]time.Time{}, deletes: map[string]int{}, failed: map[string]string{}}
}

func (b *capBackend) Get(ctx context.Context, ref backend.Ref) (backend.Workspace, error) {
	user := ref.String()
	b.mu.Lock()
	missing, prof, act, failed := b.missing[user], b.profiles[user], b.activity[user], b.failed[user]
	b.mu.Unlock()
	if missing {
		return backend.Workspace{}, backend.ErrNotFound
	}
	ws, err := b.mapBackend.Get(ctx, ref)
	if failed != "" {
		ws.State, ws.Message, ws.Endpoint = backend.StateFailed, failed, nil
	}
	ws.Profile, ws.LastActivity, ws.Created = prof, act, time.Unix(1_799_990_000, 0)
	return ws, err
}

func (b *capBackend) Start(ctx context.Context, id identity.Identity, name string) (backend.Workspace, error) {
	b.mu.Lock()
	delete(b.missing, backend.Ref{User: id.User, Name: name}.String())
	b.mu.Unlock()
	return b.mapBackend.Start(ctx, id, name)
}

func (b *capBackend) List(ctx context.Context) ([]backend.Workspace, error) {
	b.mapBackend.mu.Lock()
	var names []string
	for u := range b.byUser {
		names = append(names, u)
	}
	b.mapBackend.mu.Unlock()
	var out []backend.Workspace
	for _, u := range names {
		if ws, err := b.Get(ctx, refOf(u)); err == nil {
			out = append(out, ws)
		}
	}
	return out, nil
}

// withProfiles and withDelete add the optional interfaces.
type withProfiles struct{ *capBackend }

func (b withProfiles) SetProfile(_ context.Context, ref backend.Ref, p string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.profiles[ref.String()] = p
	if ref.Name != "" { // recording a profile creates the workspace, as in the real backends
		b.mapBackend.mu.Lock()
		if _, ok := b.byUser[ref.String()]; !ok && b.newUp != nil {
			b.byUser[ref.String()] = b.newUp(ref.String())
		}
		b.mapBackend.mu.Unlock()
		delete(b.missing, ref.String())
	}
	return nil
}

type withAll struct{ withProfiles }

func (b withAll) Delete(ctx context.Context, ref backend.Ref) error {
	_ = b.Stop(ctx, ref)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.deletes[ref.String()]++
	b.missing[ref.String()] = true
	return nil
}

var twoProfiles = []profile.Profile{
	{Name: "small", Description: "Everyday work", Default: true, CPU: profile.Amount{Request: "500m", Limit: "2"}},
	{Name: "gpu", Description: "Training", GPUs: 1, Memory: profile.Amount{Request: "8Gi", Limit: "16Gi"}},
}

// pagesFixture is the gateway fixture over capBackend; full adds ProfileSetter and Deleter.
func pagesFixture(t *testing.T, full bool, list []profile.Profile) (*fixture, *capBackend) {
	t.Helper()
	var cb *capBackend
	f := newFixtureWith(t, 0, func(c *Config, _ string) {
		cb = newCapBackend(c.Backend.(*mapBackend))
		c.Backend = cb
		if full {
			c.Backend = withAll{withProfiles{cb}}
		}
		cat, err := profile.New(list)
		if err != nil {
			t.Fatal(err)
		}
		c.Profiles = cat
	})
	return f, cb
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is a form token of user's session, read from the home page as a browser would.
func (f *fixture) csrf(t *testing.T, user string) string {
	t.Helper()
	resp, body := f.do(t, "GET", "/_codehub/", map[string]string{"Cookie": f.cookie(user)})
	m := csrfRE.FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("home page of %s: %d, no CSRF token:\n%s", user, resp.StatusCode, body)
	}
	return m[1]
}

// post sends a same-origin form with hdr (Cookie, Authorization) and the fields.
func (f *fixture) post(t *testing.T, path string, hdr map[string]string, fields url.Values) (*http.Response, string) {
	t.Helper()
	h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for k, v := range hdr {
		h[k] = v
	}
	return f.doBody(t, "POST", path, h, fields.Encode())
}

func form(csrf string, kv ...string) url.Values {
	v := url.Values{"csrf": {csrf}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// TestPagesPolicyIsStrict: every page carries a CSP without 'unsafe-inline' whose style
// hash is the page's one style element, and no page has a script or a style attribute.
func TestPagesPolicyIsStrict(t *testing.T) {
	f, _ := pagesFixture(t, true, twoProfiles)
	styleRE := regexp.MustCompile(`(?s)<style>(.*?)</style>`)
	for _, p := range []struct{ path, user string }{{"/_codehub/", "alice"}, {"/_codehub/admin", "root"}, {"/_codehub/login", ""}, {"/_codehub/logout", "alice"}} {
		resp, body := f.do(t, "GET", p.path, map[string]string{"Cookie": f.cookie(p.user)})
		csp := resp.Header.Get("Content-Security-Policy")
		if resp.StatusCode != 200 || csp != pagePolicy || strings.Contains(csp, "unsafe") || !strings.Contains(csp, "default-src 'none'") {
			t.Fatalf("%s: %d CSP %q", p.path, resp.StatusCode, csp)
		}
		if m := styleRE.FindAllStringSubmatch(body, -1); len(m) != 1 || !strings.Contains(csp, styleHash(m[0][1])) {
			t.Errorf("%s: the style element does not match the policy's hash", p.path)
		}
		if strings.Contains(body, "<script") || strings.Contains(body, " style=") {
			t.Errorf("%s: a script or inline style attribute, which the policy blocks", p.path)
		}
	}
}
