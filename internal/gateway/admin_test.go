package gateway

import (
	"testing"

	"github.com/codehub-dev/codehub/internal/auth"
)

// TestAdminIsTheGatewaysPolicy: a provider reports user and groups; --admin-users and
// --admin-groups (the gateway's one policy) decide who is admin.
func TestAdminIsTheGatewaysPolicy(t *testing.T) {
	f := newFixtureWith(t, 0, func(c *Config, _ string) {
		h, err := auth.NewHeader(auth.HeaderConfig{TrustedCIDRs: []string{"127.0.0.1"}, GroupsName: "X-Remote-Group"})
		if err != nil {
			t.Fatal(err)
		}
		c.RequestAuth = h
		c.AdminUsers, c.AdminGroups = []string{" carol"}, []string{"ops"}
	})
	for _, tc := range []struct {
		user, groups string
		admin        bool
	}{{"bob", "dev, ops", true}, {"bob", "dev", false}, {"carol", "", true}, {"dave", "", false}} {
		resp, _ := f.do(t, "GET", "/_codehub/auth/verify", map[string]string{"X-Remote-User": tc.user, "X-Remote-Group": tc.groups})
		if resp.StatusCode != 200 || (resp.Header.Get("X-Codehub-Admin") == "true") != tc.admin {
			t.Errorf("%s in %q: %d admin=%q, want admin %v", tc.user, tc.groups, resp.StatusCode, resp.Header.Get("X-Codehub-Admin"), tc.admin)
		}
	}
}
