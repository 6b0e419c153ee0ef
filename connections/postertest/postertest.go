package postertest

import (
	"context"
	"testing"

	"github.com/streamer/streamer/connections"
)

// MaxMessageSize is the @connections limit the suite checks (API
// Gateway's 128 KiB).
const MaxMessageSize = 128 * 1024

// Client is one client connection of the backend under test.
type Client interface {
	// ID is the connection ID posts address.
	ID() string
	// Receive returns the next message the client received, in order;
	// once the connection has ended and every message was returned, an
	// error. Only called when Features.NoDelivery is false.
	Receive(ctx context.Context) ([]byte, error)
	// Close closes the connection from the client's side and returns once
	// the backend was told.
	Close() error
}

// Features states what a backend cannot do; the suite leaves out the
// checks that need it.
type Features struct {
	// NoDelivery: what a client receives cannot be observed (there is no
	// real socket), so only the poster's answers are checked.
	NoDelivery bool
	// NoGone: the backend never answers 410, for unknown, deleted or
	// closed connections alike.
	NoGone bool
	// NoSizeLimit: the backend accepts posts over MaxMessageSize.
	NoSizeLimit bool
	// NoInfo: the backend has no GetConnection answer the poster can decode.
	NoInfo bool
	// NoStuck: the harness cannot open a client that stops reading, so
	// throttling and isolation from a stuck socket are not checked.
	NoStuck bool
}

// Harness is what a backend gives the suite.
type Harness struct {
	// Poster is the poster under test.
	Poster connections.Poster
	// Connect opens a client connection, closed when the test ends.
	Connect func(t *testing.T) Client
	// ConnectStuck opens a client that never reads and whose socket stops
	// taking data within a few KiB, so a 128 KiB post to it cannot
	// complete until the client goes away. The backend must queue posts
	// to it until a bounded number are pending, then throttle, and must
	// not time the stuck write out within the test's run (the suite ends
	// it by closing the client). Required unless Features.NoStuck.
	ConnectStuck func(t *testing.T) Client
	Features     Features
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	t.Run("PostDeliversInOrder", func(t *testing.T) { testPostInOrder(t, h) })
	t.Run("PostKeepsBytes", func(t *testing.T) { testPostBytes(t, h) })
	t.Run("ConcurrentPostsToOneConnection", func(t *testing.T) { testConcurrentOne(t, h) })
	t.Run("ManyConnections", func(t *testing.T) { testManyConnections(t, h) })
	t.Run("Disconnect", func(t *testing.T) { testDisconnect(t, h) })
	if !h.Features.NoSizeLimit {
		t.Run("TooLarge", func(t *testing.T) { testTooLarge(t, h) })
	}
	if !h.Features.NoInfo {
		t.Run("Info", func(t *testing.T) { testInfo(t, h) })
	}
	if !h.Features.NoGone {
		t.Run("UnknownConnectionIsGone", func(t *testing.T) { testUnknownGone(t, h) })
		t.Run("ClientCloseIsGone", func(t *testing.T) { testClientCloseGone(t, h) })
	}
	if !h.Features.NoStuck {
		t.Run("StuckConnection", func(t *testing.T) { testStuck(t, h) })
	}
}
