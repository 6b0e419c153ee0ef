package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamer/streamer/events"
	evsqlite "github.com/streamer/streamer/events/sqlite"
	"github.com/streamer/streamer/projections"
	projsqlite "github.com/streamer/streamer/projections/sqlite"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// seed appends n completed requests to the embedded store in dir.
func seed(t *testing.T, dir string, n int) {
	t.Helper()
	s, err := evsqlite.Open(filepath.Join(dir, "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := events.Meta{Actor: "alice", Tenant: "acme"}
	for i := 0; i < n; i++ {
		_, err := s.Append(context.Background(), events.RequestStream(fmt.Sprintf("req-%d", i)), 0,
			events.MustNew(events.RequestSubmitted, events.Submitted{Action: "echo", Owner: "alice", Tenant: "acme"}, m),
			events.MustNew(events.RequestStarted, events.Started{Attempt: 1}, m),
			events.MustNew(events.RequestProgressed, events.Progress{Percentage: 50, Message: "half"}, m),
			events.MustNew(events.RequestCompleted, events.Completed{Result: json.RawMessage(`{"n":1}`)}, m))
		if err != nil {
			t.Fatal(err)
		}
	}
}

func view(t *testing.T, dir, id string) (projections.RequestView, error) {
	t.Helper()
	v, err := projsqlite.Open(context.Background(), filepath.Join(dir, "views.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	return projections.NewReader(v).GetRequest(context.Background(), id)
}

func TestDevServesHealthAndProjects(t *testing.T) {
	dir := t.TempDir()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"dev", "--data", dir, "--addr", "127.0.0.1:0"}, pw, io.Discard, env(nil))
		pw.Close()
	}()
	var health string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "health:"); ok {
			health = strings.TrimSpace(u)
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if health == "" {
		t.Fatal("dev did not print its health URL")
	}
	seed(t, dir, 3)
	deadline := time.Now().Add(15 * time.Second)
	for {
		v, err := view(t, dir, "req-2")
		if err == nil && v.Status == "completed" && v.Version == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dev did not project the seeded request: %+v %v", v, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := http.Get(health)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Status       string           `json:"status"`
		LastPosition int64            `json:"lastPosition"`
		Consumers    map[string]int64 `json:"consumers"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 200 || body.Status != "ok" || body.LastPosition != 12 || body.Consumers["projector"] != 12 {
		t.Fatalf("health = %d %+v, want ok at position 12 with the projector caught up", resp.StatusCode, body)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("dev exited %d", code)
	}
}

func TestRebuildSwitchesToAnEqualGeneration(t *testing.T) {
	dir := t.TempDir()
	seed(t, dir, 20)
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"rebuild", "--data", dir}, &out, &errOut, env(nil)); code != 0 {
		t.Fatalf("rebuild exited %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "rebuilt generation g2 from 80 events") || !strings.Contains(out.String(), "80 events") {
		t.Fatalf("output:\n%s", out.String())
	}
	v, err := view(t, dir, "req-7")
	if err != nil || v.Status != "completed" || v.Percentage != 100 || v.Version != 4 || v.Owner != "alice" {
		t.Fatalf("rebuilt view = %+v, %v", v, err)
	}
	out.Reset()
	if code := run(context.Background(), []string{"rebuild", "--data", dir, "--drop-previous-after", "1ms"}, &out, &errOut, env(nil)); code != 0 {
		t.Fatalf("second rebuild exited %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "generation g4") || !strings.Contains(out.String(), "dropped generation g2") {
		t.Fatalf("output:\n%s", out.String())
	}
}

func TestFormatProgress(t *testing.T) {
	got := formatProgress(projections.Progress{Done: 450, Total: 1000, Rate: 150, ETA: 3700 * time.Millisecond}, true)
	want := "[#############                 ]  45% 450/1000 events  150 events/s  ETA 4s"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if got := formatProgress(projections.Progress{Done: 7, Rate: 2}, false); got != "7 events  2 events/s" {
		t.Fatalf("unknown total: %q", got)
	}
}

func TestUnknownCommand(t *testing.T) {
	var errOut bytes.Buffer
	if code := run(context.Background(), []string{"frobnicate"}, io.Discard, &errOut, env(nil)); code != 2 || !strings.Contains(errOut.String(), "unknown command") {
		t.Fatalf("exit %d, %q", code, errOut.String())
	}
}
