package main

import (
	"bufio"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"
)

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDevTour is the README's tour as a test: `streamer dev`, then
// `streamer events tail` on request.completed, `streamer request --follow`
// of generate_report, and `streamer audit --verify` of that request.
func TestDevTour(t *testing.T) {
	dir := t.TempDir()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"dev", "--data", dir, "--addr", "127.0.0.1:0"}, pw, io.Discard, env(nil))
		pw.Close()
	}()
	var wsURL, httpURL, token string
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() && token == "" {
		line := strings.TrimSpace(sc.Text())
		if u, ok := strings.CutPrefix(line, "WebSocket:"); ok {
			wsURL = strings.TrimSpace(u)
		}
		if u, ok := strings.CutPrefix(line, "health:"); ok {
			httpURL = strings.TrimSuffix(strings.TrimSpace(u), "/healthz")
		}
		if tok, ok := strings.CutPrefix(line, "export STREAMER_TOKEN="); ok {
			token = tok
		}
	}
	go io.Copy(io.Discard, pr)
	if wsURL == "" || httpURL == "" || token == "" {
		t.Fatalf("dev did not print its URLs and token (ws %q, http %q, token set %v)", wsURL, httpURL, token != "")
	}
	vars := env(map[string]string{"STREAMER_URL": wsURL, "STREAMER_TOKEN": token})

	tailCtx, stopTail := context.WithCancel(ctx)
	defer stopTail()
	var tail syncBuffer
	tailDone := make(chan error, 1)
	go func() {
		tailDone <- runEventsTail(tailCtx, []string{"--url", httpURL, "--pattern", `{"detail-type":["request.completed"]}`}, &tail, vars)
	}()
	time.Sleep(200 * time.Millisecond) // let the tail subscribe before the request completes

	var out, errOut syncBuffer
	if code := run(ctx, []string{"request", "--action", "generate_report", "--payload", `{"rows":7,"stepDelay":"20ms"}`, "--follow"}, &out, &errOut, vars); code != 0 {
		t.Fatalf("request exited %d: %s %s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), `"rows": 7`) {
		t.Fatalf("request output lacks the result:\n%s", out.String())
	}
	id := regexp.MustCompile(`request ([0-9a-f-]{36})`).FindStringSubmatch(out.String())
	if id == nil {
		t.Fatalf("request output names no request ID:\n%s", out.String())
	}
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(tail.String(), id[1]) {
		if time.Now().After(deadline) {
			t.Fatalf("events tail never showed the completion of %s:\n%s", id[1], tail.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(tail.String(), "request.completed") {
		t.Fatalf("tail output: %s", tail.String())
	}
	stopTail()
	<-tailDone

	var audit syncBuffer
	if code := run(ctx, []string{"audit", "--data", dir, "--verify", id[1]}, &audit, &errOut, vars); code != 0 {
		t.Fatalf("audit exited %d: %s %s", code, audit.String(), errOut.String())
	}
	if !strings.Contains(audit.String(), "chain ok") {
		t.Fatalf("audit --verify output:\n%s", audit.String())
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("dev exited %d", code)
	}
}
