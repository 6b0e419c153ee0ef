package postertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/streamer/streamer/connections"
)

// stuckPosts is how many posts the suite sends a stuck connection at once;
// a backend must throttle before that many are pending.
const stuckPosts = 160

// testStuck: a client that stops reading makes its own posts pile up and
// then throttle, never delays posts to another connection, and once it
// goes away every post still waiting for it fails with ErrGone.
func testStuck(t *testing.T, h Harness) {
	ctx := context.Background()
	stuck := h.ConnectStuck(t)
	other := h.Connect(t)

	big := bytes.Repeat([]byte("s"), MaxMessageSize)
	results := make(chan error, stuckPosts)
	for range stuckPosts {
		go func() { results <- h.Poster.Post(ctx, stuck.ID(), big) }()
	}
	got := map[string]int{}
	wait := time.NewTimer(timeout)
	defer wait.Stop()
	for got["throttled"] == 0 {
		select {
		case err := <-results:
			if kind(err) != "throttled" {
				t.Fatalf("a post to a stuck connection ended with %v before any was throttled", err)
			}
			got["throttled"]++
		case <-wait.C:
			t.Fatalf("no post of %d to a stuck connection was throttled within %v", stuckPosts, timeout)
		}
	}

	// The stuck connection holds a blocked write and a full queue; another
	// connection is served meanwhile.
	for i := range 20 {
		msg := []byte(fmt.Sprintf("other-%d", i))
		if err := h.Poster.Post(ctx, other.ID(), msg); err != nil {
			t.Fatalf("post to a healthy connection while another is stuck: %v", err)
		}
		if r := receive(t, other); !bytes.Equal(r, msg) {
			t.Fatalf("healthy connection received %q, want %q", head(r), msg)
		}
	}

	if err := stuck.Close(); err != nil {
		t.Logf("closing the stuck client: %v", err)
	}
	for n := got["throttled"]; n < stuckPosts; n++ {
		select {
		case err := <-results:
			switch kind(err) {
			case "throttled", "gone":
				got[kind(err)]++
			default:
				t.Fatalf("a post to a stuck client that went away ended with %v, want ErrGone or ErrThrottled", err)
			}
		case <-wait.C:
			t.Fatalf("%d posts to a stuck client that went away still wait after %v", stuckPosts-n, timeout)
		}
	}
	if got["gone"] == 0 {
		t.Fatalf("no post waiting for the stuck client failed with ErrGone when it went away: %v", got)
	}
	mustBe(t, "post to the stuck client after it went away", h.Poster.Post(ctx, stuck.ID(), []byte("x")), connections.ErrGone)
	if err := h.Poster.Post(ctx, other.ID(), []byte("still here")); err != nil {
		t.Fatalf("healthy connection after the stuck one went away: %v", err)
	}
	if r := receive(t, other); string(r) != "still here" {
		t.Fatalf("healthy connection received %q", head(r))
	}
}

func kind(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, connections.ErrThrottled):
		return "throttled"
	case errors.Is(err, connections.ErrGone):
		return "gone"
	}
	return "other"
}
