package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/streamer/streamer/events"
)

var meta = events.Meta{Actor: "user-1", Tenant: "tenant-1", CorrelationID: "corr-1", CausationID: "cause-1", TraceID: "trace-1", Source: "storetest"}

func submitted() events.Event {
	return events.MustNew(events.RequestSubmitted, events.Submitted{Action: "generate_report", Owner: "user-1", Tenant: "tenant-1"}, meta)
}

func started(attempt int) events.Event {
	return events.MustNew(events.RequestStarted, events.Started{Attempt: attempt, Worker: "w1"}, meta)
}

func progress(pct float64, msg string) events.Event {
	return events.MustNew(events.RequestProgressed, events.Progress{Percentage: pct, Message: msg}, meta)
}

// bigProgress is a progress event whose data is about size bytes.
func bigProgress(pct float64, size int) events.Event {
	return events.MustNew(events.RequestProgressed, events.Progress{Percentage: pct, Metadata: map[string]any{"blob": strings.Repeat("x", size)}}, meta)
}

var streamSeq atomic.Int64

// newStream returns a fresh request stream name, unique within the process.
func newStream(t *testing.T) string {
	return events.RequestStream(fmt.Sprintf("%s-%d-%s", strings.ReplaceAll(t.Name(), "/", "_"), streamSeq.Add(1), events.NewID()))
}

// running appends submitted+started and returns the stream name.
func running(t *testing.T, s events.Store) string {
	t.Helper()
	stream := newStream(t)
	if _, err := s.Append(context.Background(), stream, 0, submitted(), started(1)); err != nil {
		t.Fatalf("append submitted+started: %v", err)
	}
	return stream
}

func loadAll(t *testing.T, s events.Store, stream string) []events.Event {
	t.Helper()
	evs, err := events.LoadAll(context.Background(), s, stream, 1)
	if err != nil {
		t.Fatalf("load %s: %v", stream, err)
	}
	return evs
}

// mustFail checks err matches target and is a *events.StoreError.
func mustFail(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want errors.Is %v", err, target)
	}
	var se *events.StoreError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a *events.StoreError", err, err)
	}
}

func lastVersion(evs []events.Event) int64 {
	if len(evs) == 0 {
		return 0
	}
	return evs[len(evs)-1].Version
}
