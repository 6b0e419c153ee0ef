package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
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
	// A path nothing serves gets the API's JSON 404 (docs/audit.md).
	resp, err = http.Get(strings.TrimSuffix(health, "/healthz") + "/nope")
	if err != nil {
		t.Fatal(err)
	}
	var nf struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&nf)
	resp.Body.Close()
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Cache-Control") != "no-store" || nf.Error.Code != "not_found" {
		t.Fatalf("GET /nope = %d %q %+v, want the JSON not_found", resp.StatusCode, resp.Header.Get("Content-Type"), nf)
	}
	// A tail attached (its headers are flushed once it is subscribed) must
	// not hold the shutdown: dev exits 0, the tail's stream ends.
	tail, err := http.Get(strings.TrimSuffix(health, "/healthz") + "/events/tail")
	if err != nil || tail.StatusCode != 200 {
		t.Fatalf("tail: %v %v", tail, err)
	}
	tailDone := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, tail.Body); tailDone <- err }()
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("dev exited %d", code)
	}
	<-tailDone
	tail.Body.Close()
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

// seedConnections appends n open connections of alice, each subscribed
// to req-1, to the embedded store in dir.
func seedConnections(t *testing.T, dir string, n int) {
	t.Helper()
	s, err := evsqlite.Open(filepath.Join(dir, "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := events.Meta{Actor: "alice", Tenant: "acme"}
	for i := 0; i < n; i++ {
		_, err := s.Append(context.Background(), events.ConnectionStream(fmt.Sprintf("conn-%d", i)), 0,
			events.MustNew(events.ConnectionOpened, events.Opened{User: "alice", Tenant: "acme", Source: "websocket"}, m),
			events.MustNew(events.ConnectionSubscribed, events.Subscribed{RequestID: "req-1"}, m))
		if err != nil {
			t.Fatal(err)
		}
	}
}

// corrupt rewrites, at their own versions, request req-7 and connection
// conn-0 in the active generation of the views in dir: a projection bug
// a rebuild of their kind repairs.
func corrupt(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	v, err := projsqlite.Open(ctx, filepath.Join(dir, "views.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	m, err := v.Meta(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g, err := v.Store(m.Active, 0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := g.GetRequest(ctx, "req-7")
	if err != nil {
		t.Fatal(err)
	}
	r.Message = "corrupted"
	if err := g.PutRequest(ctx, r, r.Version); err != nil {
		t.Fatal(err)
	}
	c, err := g.GetConnection(ctx, "conn-0")
	if err != nil {
		t.Fatal(err)
	}
	c.CloseReason = "corrupted"
	if err := g.PutConnection(ctx, c, c.Version); err != nil {
		t.Fatal(err)
	}
}

// activeViews reads request req-7, connection conn-0 and the subscribers
// of req-1 through a Reader of the views in dir.
func activeViews(t *testing.T, dir string) (projections.RequestView, projections.ConnectionView, []string) {
	t.Helper()
	ctx := context.Background()
	v, err := projsqlite.Open(ctx, filepath.Join(dir, "views.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	r := projections.NewReader(v)
	req, err := r.GetRequest(ctx, "req-7")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := r.GetConnection(ctx, "conn-0")
	if err != nil {
		t.Fatal(err)
	}
	subs, err := r.Subscribers(ctx, "req-1")
	if err != nil {
		t.Fatal(err)
	}
	return req, conn, subs
}

// TestRebuildOneViewKind runs `streamer rebuild --view requests` and then
// `--view connections` on the embedded store: each repairs the views of
// its kind and carries the others over as they are.
func TestRebuildOneViewKind(t *testing.T) {
	dir := t.TempDir()
	seed(t, dir, 20)
	seedConnections(t, dir, 3)
	rebuildOK := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := run(context.Background(), append([]string{"rebuild", "--data", dir}, args...), &out, &errOut, env(nil)); code != 0 {
			t.Fatalf("rebuild %q exited %d: %s", args, code, errOut.String())
		}
		return out.String()
	}
	rebuildOK() // g2, every view
	corrupt(t, dir)

	out := rebuildOK("--view", "requests")
	if !strings.Contains(out, "rebuilt generation g4 from 86 events (") || !strings.Contains(out, "; request views only, 3 connection views carried over from g2)") {
		t.Fatalf("output:\n%s", out)
	}
	req, conn, subs := activeViews(t, dir)
	if req.Message != "half" || req.Status != "completed" || req.Version != 4 {
		t.Fatalf("request view after rebuilding the request views: %+v", req)
	}
	if conn.CloseReason != "corrupted" || conn.Version != 2 || !slices.Equal(subs, []string{"conn-0", "conn-1", "conn-2"}) {
		t.Fatalf("connection views after rebuilding the request views: %+v, subscribers %q; want them carried over", conn, subs)
	}

	out = rebuildOK("--view", "connections")
	if !strings.Contains(out, "rebuilt generation g6 from 86 events (") || !strings.Contains(out, "; connection views only, 20 request views carried over from g4)") {
		t.Fatalf("output:\n%s", out)
	}
	req, conn, subs = activeViews(t, dir)
	if req.Message != "half" || conn.CloseReason != "" || conn.Version != 2 || conn.Status != "open" || !slices.Equal(subs, []string{"conn-0", "conn-1", "conn-2"}) {
		t.Fatalf("views after rebuilding the connection views: %+v, %+v, subscribers %q", req, conn, subs)
	}
}

// interruptRebuild records in the views of dir a rebuild of views in
// progress, as an interrupted `streamer rebuild --view views` leaves it,
// and returns the name of its generation.
func interruptRebuild(t *testing.T, dir string, views projections.ViewKind) string {
	t.Helper()
	ctx := context.Background()
	v, err := projsqlite.Open(ctx, filepath.Join(dir, "views.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	m, err := v.Meta(ctx)
	if err != nil {
		t.Fatal(err)
	}
	next := m
	next.Epoch++
	next.Rebuilding, next.Views = projections.GenerationName(next.Epoch), views
	if _, err := v.SwapMeta(ctx, m.Revision, next); err != nil {
		t.Fatal(err)
	}
	return next.Rebuilding
}

// TestRebuildResumeNeedsTheSameViews: a rebuild of the request views in
// progress is resumed by `--view requests` only; another selection is
// refused with the command that resumes it, unless --restart abandons it.
func TestRebuildResumeNeedsTheSameViews(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	seed(t, dir, 8)
	seedConnections(t, dir, 2)
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"rebuild", "--data", dir}, &out, &errOut, env(nil)); code != 0 {
		t.Fatalf("rebuild exited %d: %s", code, errOut.String())
	}
	gen := interruptRebuild(t, dir, projections.ViewRequests)
	for _, args := range [][]string{nil, {"--view", "connections"}, {"--view", "all"}} {
		out.Reset()
		errOut.Reset()
		if code := run(ctx, append([]string{"rebuild", "--data", dir}, args...), &out, &errOut, env(nil)); code != 1 {
			t.Fatalf("rebuild %q exited %d; want 1", args, code)
		}
		if msg := errOut.String(); !strings.Contains(msg, "run 'streamer rebuild --view requests' to resume it") || !strings.Contains(msg, "add --restart") {
			t.Fatalf("rebuild %q: %s", args, msg)
		}
	}
	out.Reset()
	if code := run(ctx, []string{"rebuild", "--data", dir, "--view", "requests"}, &out, &errOut, env(nil)); code != 0 {
		t.Fatalf("resume exited %d: %s", code, errOut.String())
	}
	if want := "resumed and rebuilt generation " + gen + " from 36 events (8 view writes; request views only, 2 connection views carried over from g2)"; !strings.Contains(out.String(), want) {
		t.Fatalf("output:\n%s\nwant %q", out.String(), want)
	}

	// --restart abandons a rebuild in progress for another selection.
	abandoned := interruptRebuild(t, dir, projections.ViewRequests)
	out.Reset()
	if code := run(ctx, []string{"rebuild", "--data", dir, "--view", "connections", "--restart"}, &out, &errOut, env(nil)); code != 0 {
		t.Fatalf("restart exited %d: %s", code, errOut.String())
	}
	if want := "; connection views only, 8 request views carried over from " + gen + ")"; !strings.Contains(out.String(), want) || strings.Contains(out.String(), "generation "+abandoned) {
		t.Fatalf("output:\n%s\nwant a fresh generation and %q", out.String(), want)
	}
	if _, conn, subs := activeViews(t, dir); conn.Version != 2 || conn.Status != "open" || len(subs) != 2 {
		t.Fatalf("after the restarted rebuild: %+v, subscribers %q", conn, subs)
	}
}

func TestRebuildViewFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--view", "sessions"}, `--view: unknown view kind "sessions": want all, requests or connections`},
		{[]string{"--view", ""}, ""}, // "" is all: valid, so this one runs
		{[]string{"--view=request"}, `unknown view kind "request"`},
		{[]string{"requests"}, `unexpected arguments ["requests"]`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			dir := t.TempDir()
			var out, errOut bytes.Buffer
			code := run(context.Background(), append([]string{"rebuild", "--data", dir}, tc.args...), &out, &errOut, env(nil))
			if tc.want == "" {
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errOut.String())
				}
				return
			}
			if code != 1 || !strings.Contains(errOut.String(), tc.want) {
				t.Fatalf("exit %d, %q; want 1 and %q", code, errOut.String(), tc.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Fatalf("a refused command line touched the data folder: %v", entries)
			}
		})
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
