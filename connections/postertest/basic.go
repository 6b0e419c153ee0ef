package postertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamer/streamer/connections"
)

// timeout bounds every wait of the suite; it only prevents hangs.
const timeout = 30 * time.Second

func testPostInOrder(t *testing.T, h Harness) {
	ctx := context.Background()
	c := h.Connect(t)
	var want [][]byte
	for i := range 10 {
		msg := []byte(fmt.Sprintf(`{"type":"event","n":%d}`, i))
		if err := h.Poster.Post(ctx, c.ID(), msg); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
		want = append(want, msg)
	}
	if h.Features.NoDelivery {
		return
	}
	for i, w := range want {
		if got := receive(t, c); !bytes.Equal(got, w) {
			t.Fatalf("message %d: got %q, want %q", i, got, w)
		}
	}
}

func testPostBytes(t *testing.T, h Harness) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	cases := []struct {
		name string
		data []byte
	}{
		{"one byte", []byte("x")},
		{"utf-8 text", []byte("héllo ✓ 🚀 \u2028 \"quoted\"")},
		{"every byte value", all},
		{"exactly the size limit", bytes.Repeat([]byte("0123456789abcdef"), MaxMessageSize/16)},
	}
	c := h.Connect(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := h.Poster.Post(context.Background(), c.ID(), tc.data); err != nil {
				t.Fatalf("post %d bytes: %v", len(tc.data), err)
			}
			if h.Features.NoDelivery {
				return
			}
			if got := receive(t, c); !bytes.Equal(got, tc.data) {
				t.Fatalf("received %d bytes %q..., want %d bytes %q...", len(got), head(got), len(tc.data), head(tc.data))
			}
		})
	}
}

func testConcurrentOne(t *testing.T, h Harness) {
	const n = 32
	c := h.Connect(t)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := fmt.Sprintf("concurrent-%02d-%s", i, strings.Repeat("p", 1024*i))
			errs <- h.Poster.Post(context.Background(), c.ID(), []byte(msg))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent post: %v", err)
		}
	}
	if h.Features.NoDelivery {
		return
	}
	seen := map[string]bool{}
	for range n {
		got := string(receive(t, c))
		var i int
		if _, err := fmt.Sscanf(got, "concurrent-%02d-", &i); err != nil || got != fmt.Sprintf("concurrent-%02d-%s", i, strings.Repeat("p", 1024*i)) {
			t.Fatalf("received a mangled message %q...", head([]byte(got)))
		}
		if seen[got] {
			t.Fatalf("message %d received twice", i)
		}
		seen[got] = true
	}
}

func testManyConnections(t *testing.T, h Harness) {
	const clients, each = 20, 3
	cs := make([]Client, clients)
	for i := range cs {
		cs[i] = h.Connect(t)
	}
	ids := map[string]bool{}
	for _, c := range cs {
		if ids[c.ID()] {
			t.Fatalf("connection ID %s given twice", c.ID())
		}
		ids[c.ID()] = true
	}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				if err := h.Poster.Post(context.Background(), c.ID(), []byte(fmt.Sprintf("%s/%d", c.ID(), j))); err != nil {
					errs <- err
					return
				}
			}
			errs <- h.Poster.Post(context.Background(), c.ID(), []byte("end"))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("post: %v", err)
		}
	}
	if h.Features.NoDelivery {
		return
	}
	for _, c := range cs {
		for j := range each {
			if got, want := string(receive(t, c)), fmt.Sprintf("%s/%d", c.ID(), j); got != want {
				t.Fatalf("connection %s received %q, want %q", c.ID(), got, want)
			}
		}
		if got := string(receive(t, c)); got != "end" {
			t.Fatalf("connection %s received %q after its own messages, want \"end\"", c.ID(), got)
		}
	}
}

func testDisconnect(t *testing.T, h Harness) {
	ctx := context.Background()
	c := h.Connect(t)
	if err := h.Poster.Disconnect(ctx, c.ID()); err != nil {
		t.Fatalf("disconnect: %v", err)
	}
	if !h.Features.NoDelivery {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		msg, err := c.Receive(rctx)
		if err == nil {
			t.Fatalf("after Disconnect the client received %q instead of the end of its connection", head(msg))
		}
		if rctx.Err() != nil {
			t.Fatalf("the client's connection did not end after Disconnect: %v", err)
		}
	}
	if h.Features.NoGone {
		return
	}
	mustBe(t, "post after disconnect", h.Poster.Post(ctx, c.ID(), []byte("late")), connections.ErrGone)
	mustBe(t, "second disconnect", h.Poster.Disconnect(ctx, c.ID()), connections.ErrGone)
	_, err := h.Poster.Info(ctx, c.ID())
	mustBe(t, "info after disconnect", err, connections.ErrGone)
}

func testTooLarge(t *testing.T, h Harness) {
	ctx := context.Background()
	c := h.Connect(t)
	err := h.Poster.Post(ctx, c.ID(), bytes.Repeat([]byte("y"), MaxMessageSize+1))
	mustBe(t, "post of MaxMessageSize+1 bytes", err, connections.ErrTooLarge)
	if err := h.Poster.Post(ctx, c.ID(), []byte("after")); err != nil {
		t.Fatalf("post after a refused one: %v", err)
	}
	if !h.Features.NoDelivery {
		if got := string(receive(t, c)); got != "after" {
			t.Fatalf("received %q, want only the message that fit", head([]byte(got)))
		}
	}
}

func testInfo(t *testing.T, h Harness) {
	before := time.Now()
	c := h.Connect(t)
	info, err := h.Poster.Info(context.Background(), c.ID())
	if err != nil {
		t.Fatalf("info: %v", err)
	}
	// Bounds allow a minute of clock skew against a remote backend.
	if info.ConnectedAt.Before(before.Add(-time.Minute)) || info.ConnectedAt.After(time.Now().Add(time.Minute)) {
		t.Errorf("ConnectedAt %v is not around the time of the handshake (%v)", info.ConnectedAt, before)
	}
	if info.LastActiveAt.Before(info.ConnectedAt) {
		t.Errorf("LastActiveAt %v is before ConnectedAt %v", info.LastActiveAt, info.ConnectedAt)
	}
	if info.SourceIP == "" {
		t.Errorf("SourceIP is empty")
	}
}

func testUnknownGone(t *testing.T, h Harness) {
	ctx := context.Background()
	id := "postertestNone="
	mustBe(t, "post to an unknown connection", h.Poster.Post(ctx, id, []byte("x")), connections.ErrGone)
	_, err := h.Poster.Info(ctx, id)
	mustBe(t, "info of an unknown connection", err, connections.ErrGone)
	mustBe(t, "disconnect of an unknown connection", h.Poster.Disconnect(ctx, id), connections.ErrGone)
}

func testClientCloseGone(t *testing.T, h Harness) {
	ctx := context.Background()
	c := h.Connect(t)
	if err := c.Close(); err != nil {
		t.Fatalf("client close: %v", err)
	}
	// The backend learns of the close asynchronously: poll until it says
	// gone. A post that still succeeds in between is allowed.
	deadline := time.Now().Add(timeout)
	for {
		err := h.Poster.Post(ctx, c.ID(), []byte("after close"))
		if errors.Is(err, connections.ErrGone) {
			break
		}
		if err != nil {
			t.Fatalf("post after the client closed: want ErrGone, got %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("posts still succeed %v after the client closed", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err := h.Poster.Info(ctx, c.ID())
	mustBe(t, "info after the client closed", err, connections.ErrGone)
}

// receive returns the client's next message or fails the test.
func receive(t *testing.T, c Client) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	b, err := c.Receive(ctx)
	if err != nil {
		t.Fatalf("connection %s: receive: %v", c.ID(), err)
	}
	return b
}

var sentinels = []error{connections.ErrGone, connections.ErrThrottled, connections.ErrTooLarge, connections.ErrUnavailable}

// mustBe fails the test unless err matches target and no other sentinel.
func mustBe(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: want %v, got %v", what, target, err)
	}
	for _, s := range sentinels {
		if s != target && errors.Is(err, s) {
			t.Fatalf("%s: %v also matches %v", what, err, s)
		}
	}
}

func head(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}
