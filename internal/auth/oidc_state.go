package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/codehub-dev/codehub/internal/session"
)

// The OIDC sign-in's state: a cookie sealed by a session codec (bound to the cookie's
// name, OIDCStateTTL), and the states this replica has consumed.

// oidcState is the state cookie's content (its expiry is the sealed payload's).
type oidcState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"x"`
}

func (o *OIDC) seal(st oidcState, expires time.Time) (string, error) {
	plain, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	return o.state.SealPayload(plain, expires)
}

func (o *OIDC) open(v string) (oidcState, error) {
	var st oidcState
	plain, err := o.state.OpenPayload(v, o.now())
	switch {
	case errors.Is(err, session.ErrInvalid):
		return st, errors.New("state cookie fails authentication")
	case errors.Is(err, session.ErrExpired):
		return st, errors.New("state cookie expired")
	case err != nil:
		return st, errors.New("state cookie malformed")
	}
	if err := json.Unmarshal(plain, &st); err != nil || st.State == "" || st.Nonce == "" || st.Verifier == "" {
		return oidcState{}, errors.New("state cookie malformed")
	}
	return st, nil
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (o *OIDC) stateCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: OIDCStateCookie, Value: value, Path: OIDCCallbackPath, MaxAge: maxAge,
		HttpOnly: true, Secure: o.secure, SameSite: http.SameSiteLaxMode,
	}
}

// consume marks state as used; false if it was used before (a replayed callback). The
// mark outlives the state: a state cookie is valid OIDCStateTTL at most.
func (o *OIDC) consume(state string) bool {
	k := sha256.Sum256([]byte(state))
	now := o.now()
	o.usedMu.Lock()
	defer o.usedMu.Unlock()
	if len(o.used) > 10000 {
		for s, e := range o.used {
			if now.After(e) {
				delete(o.used, s)
			}
		}
		if len(o.used) > 100000 {
			// A flood of sign-ins: forget rather than grow without bound; the provider
			// still refuses a code redeemed twice.
			clear(o.used)
		}
	}
	if _, ok := o.used[k]; ok {
		return false
	}
	o.used[k] = now.Add(OIDCStateTTL)
	return true
}
