package audit_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamer/streamer/audit"
	"github.com/streamer/streamer/events"
)

// byHandProgram extracts the standalone Go verifier from docs/audit.md.
func byHandProgram(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile("../docs/audit.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, block := range strings.Split(string(doc), "```go\n")[1:] {
		code, _, ok := strings.Cut(block, "```")
		if ok && strings.Contains(code, "package main") {
			return code
		}
	}
	t.Fatal("docs/audit.md has no Go program")
	return ""
}

// TestVerifyByHandProgram builds the verifier docs/audit.md gives readers
// and runs it on histories as the API serves them: intact ones verify,
// altered ones fail at the altered version.
func TestVerifyByHandProgram(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the documented program: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(byHandProgram(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "verifychain")
	build := exec.Command(gobin, "build", "-o", bin, "main.go")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("the documented program does not build: %v\n%s", err, out)
	}

	payload := json.RawMessage(`{"note":"<b>&</b> \u2028 é","n":1e3,"f":1.50,"big":12345678901234567890,"nested":{"z":1,"a":[true,null]}}`)
	evs := append(sampleEvents()[:4], events.MustNew(events.RequestCompleted, events.Completed{Result: payload},
		events.Meta{Actor: "system:<processor>", Tenant: "acme&co", TraceID: "t-1"}))
	intact := chain(t, "r1", evs...)
	run := func(evs []events.Event) (string, bool) {
		t.Helper()
		var in bytes.Buffer
		enc := json.NewEncoder(&in)
		enc.SetEscapeHTML(false) // as the API writes it
		if err := enc.Encode(map[string]any{"requestId": "r1", "events": audit.Entries(evs)}); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin)
		cmd.Stdin = &in
		out, err := cmd.Output()
		if _, exit := err.(*exec.ExitError); err != nil && !exit {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out)), err == nil
	}
	if out, ok := run(intact); !ok || out != "chain ok (5 events)" {
		t.Fatalf("intact history: %q", out)
	}
	edited := append([]events.Event(nil), intact...)
	edited[3].Data = json.RawMessage(`{"percentage":43,"message":"generating rows"}`)
	if out, ok := run(edited); ok || out != "chain BROKEN at version 4: hash does not match the event's content" {
		t.Fatalf("edited history: %q", out)
	}
	rehashed := append([]events.Event(nil), edited...)
	rehashed[3].Hash, _ = events.ComputeHash(rehashed[3].PrevHash, rehashed[3])
	if out, ok := run(rehashed); ok || out != "chain BROKEN at version 5: prevHash does not match" {
		t.Fatalf("edited and re-hashed history: %q", out)
	}
	if out, ok := run(append(intact[:1:1], intact[2:]...)); ok || out != "chain BROKEN: expected version 2, found 3" {
		t.Fatalf("history with a deleted event: %q", out)
	}
}
