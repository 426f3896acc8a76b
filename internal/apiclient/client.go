// Package apiclient is the CLI's client for the gateway's JSON API, authenticated with a
// personal API token.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/codehub-dev/codehub/internal/profile"
)

// Client talks to one gateway.
type Client struct {
	Server string // e.g. https://vscode.example.com
	Token  string // chub_…
	HTTP   *http.Client
}

// Workspace is one workspace as the API reports it.
type Workspace struct {
	Name string `json:"name"`
	User string `json:"user"`
	// Workspace is the name of a named workspace among its owner's ("" = the default).
	Workspace          string     `json:"workspace,omitempty"`
	Profile            string     `json:"profile,omitempty"`
	State              string     `json:"state"`
	Message            string     `json:"message,omitempty"`
	Notice             string     `json:"notice,omitempty"`
	LastActivity       *time.Time `json:"lastActivity,omitempty"`
	Created            *time.Time `json:"created,omitempty"`
	IdleTimeoutSeconds float64    `json:"idleTimeoutSeconds,omitempty"`
	StopsAt            *time.Time `json:"stopsAt,omitempty"`
	StopReason         string     `json:"stopReason,omitempty"`
}

// Deleted is the API's answer to a delete: what happened to the files.
type Deleted struct {
	Name      string `json:"name"`
	User      string `json:"user"`
	Workspace string `json:"workspace,omitempty"`
	Deleted   bool   `json:"deleted"`
	Files     string `json:"files"`
}

// Error is an answer of the API other than success; Message is the gateway's.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("HTTP %d", e.Status)
	}
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
}

// NotFound reports whether err is the API's 404.
func NotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	if c.Token == "" {
		return errors.New("no API token: set CODEHUB_TOKEN or --token-file (create one at /_codehub/api/v1/tokens)")
	}
	u, err := url.Parse(strings.TrimRight(c.Server, "/") + path)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--server must be the gateway's URL, e.g. https://vscode.example.com")
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		var e struct{ Error string }
		_ = json.Unmarshal(b, &e)
		return &Error{Status: resp.StatusCode, Message: e.Error}
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// workspacePath is the API path of user's workspace name ("" = the default one).
func workspacePath(user, name string) string {
	p := "/_codehub/api/v1/workspaces/" + url.PathEscape(user)
	if name != "" {
		p += "/" + url.PathEscape(name)
	}
	return p
}

// List returns the workspaces the token may see (admins: all).
func (c *Client) List(ctx context.Context) ([]Workspace, error) {
	var out struct{ Workspaces []Workspace }
	err := c.do(ctx, http.MethodGet, "/_codehub/api/v1/workspaces", nil, &out)
	return out.Workspaces, err
}

// Get returns user's workspace name ("" = the default one).
func (c *Client) Get(ctx context.Context, user, name string) (Workspace, error) {
	var w Workspace
	err := c.do(ctx, http.MethodGet, workspacePath(user, name), nil, &w)
	return w, err
}

// Start starts user's workspace name (your own, or anyone's for admins), with profile when
// it is not "" (it applies from this start on). Your own named workspace is created by its
// first start.
func (c *Client) Start(ctx context.Context, user, name, profile string) (Workspace, error) {
	var w Workspace
	var in any
	if profile != "" {
		in = map[string]string{"profile": profile}
	}
	err := c.do(ctx, http.MethodPost, workspacePath(user, name)+"/start", in, &w)
	return w, err
}

// Stop stops user's workspace name; its files stay.
func (c *Client) Stop(ctx context.Context, user, name string) (Workspace, error) {
	var w Workspace
	err := c.do(ctx, http.MethodPost, workspacePath(user, name)+"/stop", nil, &w)
	return w, err
}

// Delete deletes user's workspace name; the answer says what happened to its files.
func (c *Client) Delete(ctx context.Context, user, name string) (Deleted, error) {
	var d Deleted
	err := c.do(ctx, http.MethodDelete, workspacePath(user, name), nil, &d)
	return d, err
}

// Profile is one entry of the API's profile list: the admin's definition, and the fields
// the gateway's backend does not apply.
type Profile struct {
	profile.Profile
	Ignored []string `json:"ignored,omitempty"`
}

// Profiles lists the profiles the token's user may use.
func (c *Client) Profiles(ctx context.Context) ([]Profile, error) {
	var out struct{ Profiles []Profile }
	err := c.do(ctx, http.MethodGet, "/_codehub/api/v1/profiles", nil, &out)
	return out.Profiles, err
}
