package auth

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestClaimsOneParser: headers (forward, header) and ID token claims (oidc) go through
// one parser, so the same values give the same identity or the same refusal.
func TestClaimsOneParser(t *testing.T) {
	names := claimNames{User: "u", UID: "uid", GID: "gid", Groups: "g"}
	cases := []struct {
		name                  string
		user, uid, gid, group string
		ok                    bool
		want                  string // user|uid|gid|groups
	}{
		{"all", "alice", "1001", "100", "a, ,b", true, "alice|1001|100|a,b"},
		{"no ids, no groups", "bob", "", "", "", true, "bob|||"},
		{"uid 0", "alice", "0", "", "", false, ""},
		{"uid too large", "alice", "4294967295", "", "", false, ""},
		{"uid signed", "alice", "+5", "", "", false, ""},
		{"gid not decimal", "alice", "", "0x10", "", false, ""},
		{"user with space", "a b", "", "", "", false, ""},
		{"user bidi", "admin\u202e", "", "", "", false, ""},
		{"over-long group", "alice", "", "", strings.Repeat("g", 257), false, ""},
		{"too many groups", "alice", "", "", strings.Repeat("g,", 257), false, ""},
		{"control char group", "alice", "", "", "a\x01", false, ""},
	}
	for _, tc := range cases {
		h := http.Header{}
		c := jsonClaims{}
		for k, v := range map[string]string{"u": tc.user, "uid": tc.uid, "gid": tc.gid, "g": tc.group} {
			if v != "" {
				h.Set(k, v)
				c[k], _ = json.Marshal(v)
			}
		}
		for src, s := range map[string]claimSource{"headers": headerSource(h), "claims": c} {
			id, err := names.identity(s)
			if (err == nil) != tc.ok {
				t.Errorf("%s from %s: err = %v, want ok=%v", tc.name, src, err, tc.ok)
				continue
			}
			if err != nil {
				if strings.Contains(err.Error(), tc.user) && tc.user != "alice" {
					t.Errorf("%s from %s: error %q quotes the value", tc.name, src, err)
				}
				continue
			}
			got := id.User + "|" + idString(id.UID) + "|" + idString(id.GID) + "|" + strings.Join(id.Groups, ",")
			if got != tc.want || id.Admin {
				t.Errorf("%s from %s: %s (admin %v), want %s", tc.name, src, got, id.Admin, tc.want)
			}
		}
	}
	// A number is a unix id in a token too.
	id, err := names.identity(jsonClaims{"u": json.RawMessage(`"carol"`), "uid": json.RawMessage(`2001`), "g": json.RawMessage(`["x","y"]`)})
	if err != nil || *id.UID != 2001 || strings.Join(id.Groups, ",") != "x,y" {
		t.Errorf("numeric uid, group array: %+v %v", id, err)
	}
}

func idString(p *int64) string {
	if p == nil {
		return ""
	}
	b, _ := json.Marshal(*p)
	return string(b)
}
