package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/streamer/streamer/events"
)

func testRoundTrip(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	stream := newStream(t)
	before := time.Now().UTC().Add(-time.Second)
	in := []events.Event{submitted(), started(1), progress(12.5, "warming up ✓ <&>")}
	in[0].Meta = events.Meta{Actor: "a", Tenant: "t", CorrelationID: "c", CausationID: "k", TraceID: "tr", Source: "src"}
	in[2].Data = []byte(`{"percentage": 12.5, "message":"warming up ✓ <&>", "metadata": {"z": 1, "a": [1, 2.50, "x"]}}`)
	stored, err := s.Append(ctx, stream, 0, in...)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	if len(stored) != len(in) {
		t.Fatalf("append returned %d events, want %d", len(stored), len(in))
	}
	loaded := loadAll(t, s, stream)
	if len(loaded) != len(in) {
		t.Fatalf("loaded %d events, want %d", len(loaded), len(in))
	}
	for i, got := range loaded {
		want := stored[i]
		if got.ID != want.ID || got.StreamID != stream || got.Version != int64(i+1) || got.Type != in[i].Type ||
			got.SchemaVersion != events.CurrentSchema(in[i].Type) || got.Meta != in[i].Meta ||
			got.PrevHash != want.PrevHash || got.Hash != want.Hash {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, got, want)
		}
		if !got.Time.Equal(want.Time) || got.Time.Location() != time.UTC || got.Time.Before(before) {
			t.Errorf("event %d: time %v, want %v in UTC", i, got.Time, want.Time)
		}
		if !bytes.Equal(got.Data, in[i].Data) {
			t.Errorf("event %d: data not stored byte for byte:\n got %s\nwant %s", i, got.Data, in[i].Data)
		}
		if got.ID == "" || got.Hash == "" {
			t.Errorf("event %d: ID or Hash not stamped", i)
		}
	}
	if loaded[0].PrevHash != "" || loaded[1].PrevHash != loaded[0].Hash || loaded[2].PrevHash != loaded[1].Hash {
		t.Errorf("prevHash links wrong: %q %q %q", loaded[0].PrevHash, loaded[1].PrevHash, loaded[2].PrevHash)
	}
	// Event IDs are time ordered (UUIDv7) and distinct.
	if !(loaded[0].ID < loaded[1].ID || loaded[0].ID != loaded[1].ID) {
		t.Errorf("event IDs not distinct: %s %s", loaded[0].ID, loaded[1].ID)
	}
	// An event written with an old schema version keeps it and upcasts on decode.
	old := events.Event{Type: events.RequestProgressed, SchemaVersion: 1, Data: []byte(`{"percent":40,"status":"old shape"}`)}
	if _, err := s.Append(ctx, stream, 3, old); err != nil {
		t.Fatalf("append schema-1 event: %v", err)
	}
	p, err := s.Load(ctx, stream, 4, 0)
	if err != nil || len(p.Events) != 1 {
		t.Fatalf("load v4: %v %v", p, err)
	}
	if p.Events[0].SchemaVersion != 1 {
		t.Fatalf("schema version %d, want 1 as written", p.Events[0].SchemaVersion)
	}
	pr, err := events.PayloadAs[*events.Progress](p.Events[0])
	if err != nil || pr.Percentage != 40 || pr.Message != "old shape" {
		t.Fatalf("upcast payload = %+v, %v", pr, err)
	}
}

func testVersionConflict(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	stream := running(t, s) // at version 2
	for _, expected := range []int64{0, 1, 3, 10} {
		_, err := s.Append(ctx, stream, expected, progress(1, "stale"))
		mustFail(t, err, events.ErrVersionConflict)
		var se *events.StoreError
		errors.As(err, &se)
		if se.Op != "append" || se.Stream != stream || se.Version != expected {
			t.Errorf("StoreError = %+v, want op append, stream %s, version %d", se, stream, expected)
		}
	}
	if _, err := s.Append(ctx, stream, -1, progress(1, "negative")); err == nil {
		t.Fatal("append at expected version -1 succeeded")
	}
	if got := loadAll(t, s, stream); len(got) != 2 {
		t.Fatalf("conflicting appends wrote: stream has %d events, want 2", len(got))
	}
	if _, err := s.Append(ctx, stream, 2, progress(1, "fresh")); err != nil {
		t.Fatalf("append at the right version: %v", err)
	}
}

func testIdempotentSubmit(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	key := "key-" + events.NewID()
	id := events.RequestID("tenant-1", "user-1", key)
	if id != events.RequestID("tenant-1", "user-1", key) {
		t.Fatal("RequestID is not deterministic")
	}
	if id == events.RequestID("tenant-2", "user-1", key) || events.RequestID("a", "bc", "") == events.RequestID("ab", "c", "") {
		t.Fatal("RequestID collides for different inputs")
	}
	stream := events.RequestStream(id)
	if _, err := s.Append(ctx, stream, 0, submitted()); err != nil {
		t.Fatalf("first submit: %v", err)
	}
	_, err := s.Append(ctx, stream, 0, submitted())
	mustFail(t, err, events.ErrVersionConflict)
	if got := loadAll(t, s, stream); len(got) != 1 {
		t.Fatalf("repeated submit wrote: %d events", len(got))
	}
}

func testLoadFromMiddle(t *testing.T, h Harness) {
	ctx := context.Background()
	s := h.New(t)
	stream := running(t, s)
	for i := 1; i <= 8; i++ {
		if _, err := s.Append(ctx, stream, int64(i+1), progress(float64(i*10), "")); err != nil {
			t.Fatal(err)
		}
	}
	p, err := s.Load(ctx, stream, 5, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events) != 6 || p.Events[0].Version != 5 || lastVersion(p.Events) != 10 || p.Next != 0 {
		t.Fatalf("load from 5: %d events, first %d, next %d", len(p.Events), p.Events[0].Version, p.Next)
	}
	p, err = s.Load(ctx, stream, 11, 0)
	if err != nil || len(p.Events) != 0 || p.Next != 0 {
		t.Fatalf("load past the end: %d events, next %d, err %v", len(p.Events), p.Next, err)
	}
	_, err = s.Load(ctx, newStream(t), 1, 0)
	if !errors.Is(err, events.ErrStreamNotFound) {
		t.Fatalf("load of an empty stream: %v, want ErrStreamNotFound", err)
	}
	var se *events.StoreError
	if !errors.As(err, &se) || se.Op != "load" {
		t.Fatalf("load error %v is not a load StoreError", err)
	}
}
