// Package identity holds who a request belongs to and how a user maps to a workspace name.
package identity

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Identity is an authenticated user. It only ever comes from a verified session or an
// authenticator, never from a client-controlled path, query or header.
type Identity struct {
	// User is the platform user name exactly as the authenticator returned it.
	User string `json:"user"`
	// UID and GID are the unix ids to run the workspace as, when the platform knows them.
	UID *int64 `json:"uid,omitempty"`
	GID *int64 `json:"gid,omitempty"`
	// Groups the user belongs to (names or ids, as the authenticator reports them).
	Groups []string `json:"groups,omitempty"`
	// Admin users may list, start and stop other users' workspaces through the API.
	Admin bool `json:"admin,omitempty"`
}

// maxSlug keeps room in a 63-character DNS label for a hash and the suffixes the
// operator appends to object names (e.g. "-nodeport").
const maxSlug = 30

// WorkspaceName returns a deterministic, DNS-1123-label-safe name for user's workspace.
// Users that differ only in case or punctuation ("Alice"/"alice", "a-b"/"a.b") get
// different names because the suffix hashes the exact user string.
func WorkspaceName(user string) string {
	var b strings.Builder
	lastDash := true
	for _, r := range strings.ToLower(user) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			lastDash = false
		case !lastDash:
			b.WriteByte('-')
			lastDash = true
		}
		if b.Len() >= maxSlug {
			break
		}
	}
	slug := strings.Trim(b.String(), "-")
	if len(slug) > maxSlug {
		slug = strings.TrimRight(slug[:maxSlug], "-")
	}
	sum := sha256.Sum256([]byte(user))
	h := hex.EncodeToString(sum[:5])
	if slug == "" {
		return "u-" + h
	}
	return slug + "-" + h
}
