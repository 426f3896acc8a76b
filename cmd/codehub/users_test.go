package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// run runs the codehub CLI with args and stdin, returning what it printed.
func run(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// codehub users list prints a table like kubectl, or -o json of the accounts — which must
// never include a password hash.
func TestUsersListOutputs(t *testing.T) {
	dir := t.TempDir()
	if out, err := run(t, "a-long-password-for-alice\n", "users", "add", "alice", "--password-stdin", "--admin", "--state-dir", dir); err != nil {
		t.Fatalf("users add: %v\n%s", err, out)
	}
	table, err := run(t, "", "users", "list", "--state-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 2 || strings.Fields(lines[0])[0] != "NAME" || strings.Fields(lines[1])[0] != "alice" || strings.Fields(lines[1])[1] != "admin" {
		t.Fatalf("table:\n%s", table)
	}
	js, err := run(t, "", "users", "list", "--state-dir", dir, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Users []map[string]any `json:"users"`
	}
	if err := json.Unmarshal([]byte(js), &got); err != nil {
		t.Fatalf("-o json: %v\n%s", err, js)
	}
	if len(got.Users) != 1 || got.Users[0]["name"] != "alice" || got.Users[0]["admin"] != true {
		t.Fatalf("-o json: %s", js)
	}
	for k := range got.Users[0] {
		if k != "name" && k != "admin" && k != "created" {
			t.Errorf("-o json prints %q", k)
		}
	}
	if strings.Contains(js, "$2") || strings.Contains(js, "argon") {
		t.Fatalf("-o json shows a password hash: %s", js)
	}
	if _, err := run(t, "", "users", "list", "--state-dir", dir, "-o", "xml"); err == nil {
		t.Fatal("-o xml accepted")
	}
}
