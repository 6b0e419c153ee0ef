// Package storetest is the conformance suite every events.Store backend
// passes. A backend's test calls Run with a Harness; the suite runs as one
// subtest tree per backend, so `go test -v` shows each backend's results
// under its own TestConformance.
package storetest

import (
	"testing"

	"github.com/streamer/streamer/events"
)

// Features states what a backend cannot do, so the suite needs no backend
// names and skips nothing silently.
type Features struct {
	// NoParallelScan: Scan ignores ScanOptions.Segments (the suite still
	// checks that a segmented Scan sees every event exactly once).
	NoParallelScan bool
}

// Harness gives the suite what it needs of one backend.
type Harness struct {
	// New returns a fresh, empty store isolated from every other store the
	// harness returned. The harness cleans it up with t.Cleanup.
	New func(t *testing.T) events.Store
	// Tamper rewrites the stored data of one event behind the store's back
	// (directly in the table), leaving its hashes as they were, the way
	// someone with write access to the table would.
	Tamper   func(t *testing.T, s events.Store, stream string, version int64, data []byte)
	Features Features
}

// Run runs the whole suite against h.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil || h.Tamper == nil {
		t.Fatal("storetest: Harness.New and Harness.Tamper are required")
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"RoundTripEveryField", testRoundTrip},
		{"VersionConflict", testVersionConflict},
		{"IdempotentSubmit", testIdempotentSubmit},
		{"MultiEventAtomicity", testAtomicity},
		{"ConcurrentAppendsOneStream", testConcurrentAppends},
		{"PaginationOverOneMegabyte", testPagination},
		{"LoadFromMiddle", testLoadFromMiddle},
		{"ScanEveryEventOnce", testScan},
		{"LifecycleRejections", testLifecycle},
		{"HashChainAndTamper", testHashChain},
		{"SizeLimits", testSizeLimits},
		{"CancelledContextNoPartialWrite", testCancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}
