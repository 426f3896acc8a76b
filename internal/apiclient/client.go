// Package apiclient is the CLI's client for the gateway's JSON API, authenticated with a
// personal API token.
package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client talks to one gateway.
type Client struct {
	Server string // e.g. https://vscode.example.com
	Token  string // chub_…
	HTTP   *http.Client
}

// Workspace is one entry of the API's workspace list.
type Workspace struct {
	Name         string     `json:"name"`
	User         string     `json:"user"`
	State        string     `json:"state"`
	Message      string     `json:"message,omitempty"`
	LastActivity *time.Time `json:"lastActivity,omitempty"`
}

func (c *Client) do(ctx context.Context, method, path string, out any) error {
	if c.Token == "" {
		return errors.New("no API token: set CODEHUB_TOKEN or --token-file (create one at /_codehub/api/v1/tokens)")
	}
	u, err := url.Parse(strings.TrimRight(c.Server, "/") + path)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--server must be the gateway's URL, e.g. https://vscode.example.com")
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		var e struct{ Error string }
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s %s: %s (HTTP %d)", method, path, e.Error, resp.StatusCode)
		}
		return fmt.Errorf("%s %s: HTTP %d", method, path, resp.StatusCode)
	}
	if out != nil {
		return json.Unmarshal(body, out)
	}
	return nil
}

// List returns the workspaces the token may see (admins: all).
func (c *Client) List(ctx context.Context) ([]Workspace, error) {
	var out struct{ Workspaces []Workspace }
	err := c.do(ctx, http.MethodGet, "/_codehub/api/v1/workspaces", &out)
	return out.Workspaces, err
}

// Start starts user's workspace (your own, or anyone's for admins).
func (c *Client) Start(ctx context.Context, user string) (Workspace, error) {
	var w Workspace
	err := c.do(ctx, http.MethodPost, "/_codehub/api/v1/workspaces/"+url.PathEscape(user)+"/start", &w)
	return w, err
}

// Stop stops user's workspace; its files stay.
func (c *Client) Stop(ctx context.Context, user string) (Workspace, error) {
	var w Workspace
	err := c.do(ctx, http.MethodPost, "/_codehub/api/v1/workspaces/"+url.PathEscape(user)+"/stop", &w)
	return w, err
}

// Profile is one entry of the API's profile list.
type Profile struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Default     bool     `json:"default,omitempty"`
	Image       string   `json:"image,omitempty"`
	CPU         Amount   `json:"cpu,omitzero"`
	Memory      Amount   `json:"memory,omitzero"`
	GPUs        int64    `json:"gpus,omitempty"`
	IdleTimeout string   `json:"idleTimeout,omitempty"`
	Extensions  []string `json:"extensions,omitempty"`
	Groups      []string `json:"groups,omitempty"`
}

// Amount is a request and a limit.
type Amount struct {
	Request string `json:"request,omitempty"`
	Limit   string `json:"limit,omitempty"`
}

// Profiles lists the profiles the token's user may use.
func (c *Client) Profiles(ctx context.Context) ([]Profile, error) {
	var out struct{ Profiles []Profile }
	err := c.do(ctx, http.MethodGet, "/_codehub/api/v1/profiles", &out)
	return out.Profiles, err
}
