// Package storetest is the conformance suite every events.Store backend
// passes. A backend's test calls Run with a Harness; the suite runs one
// subtest tree per backend.
package storetest

import (
	"context"
	"testing"

	"github.com/streamer/streamer/events"
)

// Features states what a backend cannot do, so the suite skips nothing
// silently and needs no backend names.
type Features struct {
	// NoParallelScan: Scan ignores ScanOptions.Segments.
	NoParallelScan bool
}

// Harness gives the suite what it needs of one backend.
type Harness struct {
	// New returns a fresh, empty store isolated from every other store the
	// harness returned. The harness cleans it up with t.Cleanup.
	New func(t *testing.T) events.Store
	// Tamper rewrites the stored data of one event behind the store's back
	// (directly in the table), leaving its hashes as they were, the way an
	// attacker with table access would.
	Tamper func(t *testing.T, s events.Store, stream string, version int64, data []byte)
	Features Features
}

// Run runs the whole suite against h.
func Run(t *testing.T, h Harness) {
	t.Helper()
	ctx := context.Background()
	_ = ctx
}
