// Package identity holds who a request belongs to and how a user maps to a workspace name.
package identity

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
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
	// Local marks an account of the gateway's own users file: its existence, password
	// and admin flag are read from there on every request, never from a cookie or token.
	Local bool `json:"local,omitempty"`
}

// maxSlug keeps room in a 63-character DNS label for a hash and the suffixes the
// operator appends to object names (e.g. "-nodeport").
const maxSlug = 30

// WorkspaceName returns a deterministic, DNS-1123-label-safe name for user's workspace.
// Users that differ only in case or punctuation ("Alice"/"alice", "a-b"/"a.b") get
// different names because the suffix hashes the exact user string.
func WorkspaceName(user string) string {
	slug := slugOf(user, maxSlug)
	sum := sha256.Sum256([]byte(user))
	h := hex.EncodeToString(sum[:5])
	if slug == "" {
		return "u-" + h
	}
	return slug + "-" + h
}

// slugOf folds s to lowercase letters and digits with single dashes between runs, at most
// max bytes, no dash at either end ("" if nothing is left). It never contains "--".
func slugOf(s string, max int) string {
	var b strings.Builder
	lastDash := true
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			lastDash = false
		case !lastDash:
			b.WriteByte('-')
			lastDash = true
		}
		if b.Len() >= max {
			break
		}
	}
	slug := strings.Trim(b.String(), "-")
	if len(slug) > max {
		slug = strings.TrimRight(slug[:max], "-")
	}
	return slug
}

// MaxWorkspaceNameLen bounds the name a user gives a named workspace.
const MaxWorkspaceNameLen = 20

// DefaultWorkspace is how lists show the default workspace's name; no named workspace
// may take it.
const DefaultWorkspace = "default"

// CheckWorkspaceName is the one policy for the names users give their named workspaces:
// 1 to MaxWorkspaceNameLen lowercase letters, digits and single dashes, starting and
// ending with a letter or digit. "--" is refused because port hosts are
// p<port>--<workspace>, and "default" because lists show the default workspace so.
func CheckWorkspaceName(name string) error {
	if name == "" || len(name) > MaxWorkspaceNameLen {
		return fmt.Errorf("workspace name must be 1 to %d characters", MaxWorkspaceNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return fmt.Errorf("workspace name %q may contain only lowercase letters, digits and dashes", name)
		}
	}
	switch {
	case name[0] == '-' || name[len(name)-1] == '-':
		return fmt.Errorf("workspace name %q must start and end with a letter or digit", name)
	case strings.Contains(name, "--"):
		return fmt.Errorf("workspace name %q must not contain two dashes in a row", name)
	case name == DefaultWorkspace:
		return fmt.Errorf("workspace name %q is reserved for the default workspace", name)
	}
	return nil
}

// NamedWorkspaceName returns the full name of user's workspace called name (checked by
// CheckWorkspaceName): a readable prefix of both, then 12 hex digits of a hash of the
// exact user and name. At most 41 characters, like WorkspaceName, and never equal to
// any WorkspaceName: those end in exactly 10 hex digits after the last dash, these in 12.
// The NUL separator keeps ("a", "b-c") and ("a-b", "c") apart.
func NamedWorkspaceName(user, name string) string {
	sum := sha256.Sum256([]byte(user + "\x00" + name))
	h := hex.EncodeToString(sum[:6])
	prefix := slugOf(user, 10)
	if prefix == "" {
		prefix = "u"
	}
	if n := slugOf(name, 17); n != "" {
		prefix += "-" + n
	}
	return prefix + "-" + h
}

// MaxNameLen bounds a user name from any provider.
const MaxNameLen = 256

// CheckName is the one user-name policy of every provider (local users, platform session
// verification, trusted header, OIDC): valid UTF-8 of 1 to MaxNameLen bytes, no control,
// format (bidi overrides, zero-width), separator or space characters, no slash or
// backslash, and already in NFKC form, so a fullwidth or otherwise confusable spelling
// ("ａｄｍｉｎ", "ﬁle") is refused instead of becoming a second account that looks like the
// first.
func CheckName(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return fmt.Errorf("user name must be 1 to %d bytes", MaxNameLen)
	}
	if !utf8.ValidString(name) {
		return errors.New("user name is not valid UTF-8")
	}
	for _, r := range name {
		switch {
		case unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Co, r) || r == utf8.RuneError:
			return fmt.Errorf("user name contains the control or format character %U", r)
		case unicode.IsSpace(r) || unicode.Is(unicode.Z, r):
			return fmt.Errorf("user name contains the space character %U", r)
		case r == '/' || r == '\\':
			return errors.New("user name contains a slash or backslash")
		}
	}
	if !norm.NFKC.IsNormalString(name) {
		return fmt.Errorf("user name %q is not in its canonical form (it would look like %q)", name, norm.NFKC.String(name))
	}
	return nil
}

// LogName is what logs say about a name that may not be a user at all (a password typed
// into the user-name field): a short hash, never the string.
func LogName(name string) string {
	sum := sha256.Sum256([]byte(name))
	return "sha256:" + hex.EncodeToString(sum[:4])
}
