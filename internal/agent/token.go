// Package agent is the contract between what runs inside a workspace (the codehub VS Code
// extension, codehub-init's busy reporter) and the gateway's agent API
// (/_codehub/agent/v1/...): the environment variables a workspace gets and the token it
// authenticates with.
//
// The token is derived from the workspace's credential (the secret only the gateway and
// the workspace's code-server know: HASHED_PASSWORD) with HMAC, so the gateway can check it
// without storing anything and the credential itself never reaches the workspace's
// processes. It names one user and only ever acts on that user's own workspace: read its
// status, mark activity ("Keep running", busy work), stop it. A new credential (every
// local start; a re-created Workspace) invalidates it.
package agent

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// Environment variables of a workspace (code-server, its extension host, its terminals).
const (
	EnvURL       = "CODEHUB_AGENT_URL"   // the gateway's agent API: http(s)://host:port or unix:/path
	EnvToken     = "CODEHUB_AGENT_TOKEN" // Token(user, credential)
	EnvPublicURL = "CODEHUB_PUBLIC_URL"  // the gateway as the user's browser reaches it
	EnvUser      = "CODEHUB_USER"        // the workspace's owner
	EnvWorkspace = "CODEHUB_WORKSPACE"   // a named workspace's name (unset for the default one)
)

const prefix = "chagent_"

// Subject is what a workspace's token names: its owner, and for a named workspace a NUL
// and its name (user names never contain control characters: identity.CheckName), so the
// default workspace's token is what it was before named workspaces.
func Subject(user, name string) string {
	if name == "" {
		return user
	}
	return user + "\x00" + name
}

// SplitSubject is the inverse of Subject.
func SplitSubject(subject string) (user, name string) {
	user, name, _ = strings.Cut(subject, "\x00")
	return user, name
}

// Token is the agent token of user's workspace whose credential is credential.
func Token(user, credential string) string {
	return prefix + base64.RawURLEncoding.EncodeToString([]byte(user)) + "." + mac(user, credential)
}

func mac(user, credential string) string {
	m := hmac.New(sha256.New, []byte(credential))
	m.Write([]byte("codehub agent v1\x00" + user))
	return hex.EncodeToString(m.Sum(nil))
}

// User reads the user a token claims (not yet verified).
func User(token string) (string, bool) {
	rest, ok := strings.CutPrefix(token, prefix)
	if !ok {
		return "", false
	}
	enc, _, ok := strings.Cut(rest, ".")
	if !ok {
		return "", false
	}
	u, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(u) == 0 {
		return "", false
	}
	return string(u), true
}

// Verify reports whether token is user's token for credential (constant time).
func Verify(token, user, credential string) bool {
	if credential == "" {
		return false
	}
	return hmac.Equal([]byte(token), []byte(Token(user, credential)))
}
