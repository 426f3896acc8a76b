package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/codehub-dev/codehub/internal/identity"
)

// Limits on identity attributes, whichever provider reports them; beyond them an
// answer is malformed.
const (
	maxUserLen   = 256
	maxGroupLen  = 256
	maxGroups    = 256
	maxHeaderLen = 8 << 10
	maxSecretLen = 4 << 10
	maxUnixIDLen = 20
	maxUnixID    = 1<<32 - 2 // (uid_t)-1 is "no id"
)

// claimNames says where a provider reads each identity attribute: the verifier's
// response headers (forward), request headers from a trusted proxy (header) or the ID
// token's claims (oidc). An empty name is not read.
type claimNames struct {
	User, UID, GID, Groups string
}

// claimSource holds named values: headers or a token's claims.
type claimSource interface {
	// value returns name's one value: present=false when absent; an error (the
	// problem, never the value) when it is repeated, longer than max or not text.
	value(name string, max int) (v string, present bool, err error)
	// list returns name's groups, not yet checked: a comma-separated value or a list.
	list(name string) ([]string, bool, error)
}

// claimError says which attribute is unusable and why, never its value.
type claimError struct {
	name, problem string
	absent        bool // the user attribute is not there at all
}

func (e *claimError) Error() string { return e.name + " " + e.problem }

// identity reads an identity from src, the one parser of every provider: a user
// (identity.CheckName), unix ids (decimal digits, 1..4294967294: 0 is refused, a
// platform identity never runs a workspace as root) and groups (text, each at most 256
// bytes, at most 256 of them). It never sets Admin: the gateway decides who is admin.
func (n claimNames) identity(src claimSource) (identity.Identity, error) {
	var id identity.Identity
	user, ok, err := src.value(n.User, maxUserLen)
	if err != nil {
		return id, &claimError{name: n.User, problem: "is not a usable user name: " + err.Error()}
	}
	if !ok || user == "" {
		return id, &claimError{name: n.User, problem: "missing or empty", absent: !ok}
	}
	if err := identity.CheckName(user); err != nil {
		// One policy for every provider; inner whitespace, for one, is how an obsolete
		// folded header ("alice\r\n admin") arrives after unfolding.
		return id, &claimError{name: n.User, problem: "is not a usable user name: " + redactName(err)}
	}
	id.User = user
	for _, m := range []struct {
		name string
		dst  **int64
	}{{n.UID, &id.UID}, {n.GID, &id.GID}} {
		if m.name == "" {
			continue
		}
		s, ok, err := src.value(m.name, maxUnixIDLen)
		if err != nil {
			return identity.Identity{}, &claimError{name: m.name, problem: err.Error()}
		}
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || strings.Trim(s, "0123456789") != "" || v < 1 || v > maxUnixID {
			return identity.Identity{}, &claimError{name: m.name, problem: fmt.Sprintf("is not a unix id in 1..%d", int64(maxUnixID))}
		}
		*m.dst = &v
	}
	if n.Groups != "" {
		list, _, err := src.list(n.Groups)
		if err != nil {
			return identity.Identity{}, &claimError{name: n.Groups, problem: err.Error()}
		}
		for _, g := range list {
			if g = strings.TrimSpace(g); g == "" {
				continue
			}
			problem := ""
			switch {
			case len(g) > maxGroupLen:
				problem = "has an over-long group"
			case checkText(g) != nil:
				problem = "has a group that is not text"
			case len(id.Groups) == maxGroups:
				problem = fmt.Sprintf("has more than %d groups", maxGroups)
			}
			if problem != "" {
				return identity.Identity{}, &claimError{name: n.Groups, problem: problem}
			}
			id.Groups = append(id.Groups, g)
		}
	}
	return id, nil
}

// headerSource reads identity from HTTP headers: one value each, groups comma-separated.
type headerSource http.Header

func (h headerSource) value(name string, max int) (string, bool, error) {
	return single(http.Header(h), name, max)
}

func (h headerSource) list(name string) ([]string, bool, error) {
	s, ok, err := single(http.Header(h), name, maxHeaderLen)
	if !ok || err != nil {
		return nil, ok, err
	}
	return strings.Split(s, ","), true, nil
}

// single returns the one value of header name, trimmed of spaces: present=false when
// absent; an error when repeated, longer than max, not UTF-8 or containing control
// characters.
func single(h http.Header, name string, max int) (string, bool, error) {
	vals := h.Values(name)
	switch len(vals) {
	case 0:
		return "", false, nil
	case 1:
	default:
		return "", false, errors.New("repeated")
	}
	s := strings.Trim(vals[0], " \t")
	if err := checkValue(s, max); err != nil {
		return "", false, err
	}
	return s, true, nil
}

// jsonClaims reads identity from an ID token's claims: strings (numbers too, for unix
// ids), groups as an array of strings or one comma-separated string.
type jsonClaims map[string]json.RawMessage

func (c jsonClaims) value(name string, max int) (string, bool, error) {
	raw, ok := c[name]
	if !ok {
		return "", false, nil
	}
	s := string(raw)
	if json.Unmarshal(raw, &s) != nil {
		s = strings.TrimSpace(string(raw)) // a number (or what is no id either)
	}
	if err := checkValue(s, max); err != nil {
		return "", false, err
	}
	return s, true, nil
}

func (c jsonClaims) list(name string) ([]string, bool, error) {
	raw, ok := c[name]
	if !ok {
		return nil, false, nil
	}
	var list []string
	var one string
	switch {
	case json.Unmarshal(raw, &list) == nil:
		return list, true, nil
	case json.Unmarshal(raw, &one) == nil:
		return strings.Split(one, ","), true, nil
	case string(raw) == "null":
		return nil, true, nil
	}
	return nil, true, errors.New("is not a list of strings")
}

// str returns claim name if it is a string, else "".
func (c jsonClaims) str(name string) string {
	var s string
	if raw, ok := c[name]; ok && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return ""
}

// claimHas reports whether a raw claim equals want (string, number or boolean) or, for
// an array, contains it.
func claimHas(raw json.RawMessage, want string) bool {
	if raw == nil {
		return false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s == want
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		for _, e := range list {
			if claimHas(e, want) {
				return true
			}
		}
		return false
	}
	return strings.TrimSpace(string(raw)) == want // numbers, true/false
}

func checkValue(s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("longer than %d bytes", max)
	}
	return checkText(s)
}

// checkText refuses invalid UTF-8 and control characters (C0, DEL, C1, and the
// Unicode line/paragraph separators and bidi controls).
func checkText(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("is not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == 0x2028 || r == 0x2029 ||
			(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0xfeff {
			return errors.New("contains control characters")
		}
	}
	return nil
}

// redactName keeps a name-policy error from quoting the name (error messages name the
// header or claim and the problem, never the value).
func redactName(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, " \""); i >= 0 {
		msg = msg[:i] + " is not in its canonical form"
	}
	return msg
}
