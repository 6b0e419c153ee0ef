// Package viewtest is the conformance suite every projections.ViewStore and
// projections.Generations backend passes. A backend's test calls Run with a
// Harness; what a backend cannot do is stated in Features, never by
// backend name, and nothing is skipped silently.
package viewtest

import (
	"testing"
	"time"

	"github.com/streamer/streamer/projections"
)

// Features states what a backend cannot do.
type Features struct {
	// EventualIndexes: list, subscriber, user and expiry queries may lag
	// the writes they reflect (DynamoDB global secondary indexes). The
	// suite then polls those queries for up to IndexLag before judging.
	EventualIndexes bool
	// IndexLag bounds the polling; default 10 s.
	IndexLag time.Duration
}

// Harness gives the suite what it needs of one backend.
type Harness struct {
	// New returns a fresh, empty, unfenced generation isolated from every
	// other store the harness returned; the harness cleans it up with
	// t.Cleanup.
	New func(t *testing.T) projections.ViewStore
	// Generations returns a fresh catalog with no Meta record, isolated
	// from every other.
	Generations func(t *testing.T) projections.Generations
	Features    Features
}

// Run runs the whole suite against h.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil || h.Generations == nil {
		t.Fatal("viewtest: Harness.New and Harness.Generations are required")
	}
	if h.Features.IndexLag <= 0 {
		h.Features.IndexLag = 10 * time.Second
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"RequestRoundTripEveryField", testRequestRoundTrip},
		{"ConnectionRoundTripEveryField", testConnectionRoundTrip},
		{"NotFound", testNotFound},
		{"RequestVersionGuard", testRequestVersionGuard},
		{"ConnectionVersionGuard", testConnectionVersionGuard},
		{"ListByOwnerPaginated", testListByOwner},
		{"ListByStatusPaginated", testListByStatus},
		{"InvalidCursor", testInvalidCursor},
		{"PutNewer", testPutNewer},
		{"SubscriberAndUserIndexes", testIndexes},
		{"ExpiryOfConnections", testExpiry},
		{"ConcurrentWritersOneRequest", testConcurrentRequest},
		{"ConcurrentWritersOneConnection", testConcurrentConnection},
		{"MetaCompareAndSwap", testMetaSwap},
		{"GenerationsIsolatedAndDropped", testGenerationIsolation},
		{"FencedWrites", testFence},
		{"CopyViews", testCopyViews},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}
