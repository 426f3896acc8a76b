package main

import "testing"

// codehub-init runs `code-server --install-extension X --extensions-dir D` before starting
// the server; the stand-in must treat that as a command that ends, not as a server start
// (the workspace's start waited for it until it was killed).
func TestExtensionCommandsEnd(t *testing.T) {
	for _, args := range [][]string{
		{"--extensions-dir", "/e", "--install-extension", "/x/codehub.vsix"},
		{"--install-extension=/x/codehub.vsix"},
		{"--list-extensions", "--extensions-dir", "/e"},
	} {
		o, version, err := parseArgs(args)
		if err != nil || version || o.extensionCommand == "" {
			t.Errorf("%q: extension command %q, version %v, err %v", args, o.extensionCommand, version, err)
		}
	}
	if o, _, _ := parseArgs([]string{"--socket", "/s", "/folder"}); o.extensionCommand != "" {
		t.Errorf("a server start read as %q", o.extensionCommand)
	}
}
