package fanout_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/streamer/streamer/connections"
	"github.com/streamer/streamer/events"
	evsqlite "github.com/streamer/streamer/events/sqlite"
	"github.com/streamer/streamer/fanout"
	"github.com/streamer/streamer/projections"
	projsqlite "github.com/streamer/streamer/projections/sqlite"
	"github.com/streamer/streamer/protocol"
)

var errInjected = errors.New("injected fault")

var quiet = slog.New(slog.DiscardHandler)

// stack is the embedded runtime's real components (as app/embedded wires
// them): the SQLite log, the SQLite views, their reader and the projector.
// Events appended through it collect in a pending batch, which take hands
// out after projecting it, as the projector — the feed's first reader —
// would have done before the fan-out sees them.
type stack struct {
	Store     *evsqlite.Store
	Views     *projsqlite.Views
	Reader    *projections.Reader
	Projector *projections.Projector

	mu      sync.Mutex
	heads   map[string]int64
	pending []events.Event
}

func newStack(t testing.TB) *stack {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store, err := evsqlite.Open(filepath.Join(dir, "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	views, err := projsqlite.Open(ctx, filepath.Join(dir, "views.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { views.Close() })
	if _, err := projections.Bootstrap(ctx, views); err != nil {
		t.Fatal(err)
	}
	return &stack{
		Store:     store,
		Views:     views,
		Reader:    projections.NewReader(views),
		Projector: projections.NewProjector(store, views, projections.WithName("projector"), projections.WithLogger(quiet)),
		heads:     map[string]int64{},
	}
}

// append appends evs to stream at its head and adds the stored events to
// the pending batch.
func (s *stack) append(t testing.TB, stream string, evs ...events.Event) []events.Event {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	stored, err := s.Store.Append(context.Background(), stream, s.heads[stream], evs...)
	if err != nil {
		t.Fatalf("append to %s: %v", stream, err)
	}
	s.heads[stream] += int64(len(stored))
	s.pending = append(s.pending, stored...)
	return stored
}

func (s *stack) open(t testing.TB, conn, tenant, user string) {
	s.append(t, events.ConnectionStream(conn), events.MustNew(events.ConnectionOpened, events.Opened{User: user, Tenant: tenant}, events.Meta{Actor: user, Tenant: tenant}))
}

func (s *stack) subscribe(t testing.TB, conn, requestID string) {
	s.append(t, events.ConnectionStream(conn), events.MustNew(events.ConnectionSubscribed, events.Subscribed{RequestID: requestID}, events.Meta{}))
}

func (s *stack) submit(t testing.TB, requestID, tenant, owner string) {
	s.append(t, events.RequestStream(requestID), events.MustNew(events.RequestSubmitted,
		events.Submitted{Action: "echo", Owner: owner, Tenant: tenant}, events.Meta{Actor: owner, Tenant: tenant, TraceID: "trace-" + requestID}))
}

func (s *stack) start(t testing.TB, requestID string) {
	s.append(t, events.RequestStream(requestID), events.MustNew(events.RequestStarted, events.Started{Attempt: 1, Worker: "w1"}, events.Meta{}))
}

func (s *stack) progress(t testing.TB, requestID string, pct float64) {
	s.append(t, events.RequestStream(requestID), events.MustNew(events.RequestProgressed,
		events.Progress{Percentage: pct, Message: fmt.Sprintf("at %v%%", pct)}, events.Meta{}))
}

func (s *stack) complete(t testing.TB, requestID string, result any) {
	r, err := json.Marshal(result)
	if err != nil {
		t.Fatal(err)
	}
	s.append(t, events.RequestStream(requestID), events.MustNew(events.RequestCompleted, events.Completed{Result: r}, events.Meta{}))
}

// take projects the pending batch and returns it.
func (s *stack) take(t testing.TB) []events.Event {
	t.Helper()
	s.mu.Lock()
	batch := s.pending
	s.pending = nil
	s.mu.Unlock()
	if f := s.Projector.Handle(context.Background(), batch); f != nil {
		t.Fatalf("projector failures: %v", f)
	}
	return batch
}

// project hands every event of stream, appended by someone else than the
// stack, to the projector, as the feed would.
func (s *stack) project(t testing.TB, stream string) {
	t.Helper()
	evs, err := events.LoadAll(context.Background(), s.Store, stream, 1)
	if err != nil {
		t.Fatal(err)
	}
	if f := s.Projector.Handle(context.Background(), evs); f != nil {
		t.Fatalf("projector failures: %v", f)
	}
}

// takeUnprojected returns the pending batch without projecting it.
func (s *stack) takeUnprojected() []events.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	batch := s.pending
	s.pending = nil
	return batch
}

// newFanout builds a Fanout over s with fast retries; mod adjusts cfg.
func newFanout(t testing.TB, s *stack, p connections.Poster, mod func(*fanout.Config)) *fanout.Fanout {
	t.Helper()
	cfg := fanout.Config{Reader: s.Reader, Store: s.Store, Poster: p, Backoff: time.Millisecond, Logger: quiet}
	if mod != nil {
		mod(&cfg)
	}
	f, err := fanout.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// behavior decides the fate of one post attempt to a connection (attempt
// counts from 1); nil lets it through.
type behavior func(ctx context.Context, attempt int, data []byte) error

// recorder is an in-memory @connections API: the boundary of the fan-out.
// Live connections accept posts, which it decodes and records in order;
// anything else is gone. A behavior per connection can refuse or hold
// attempts. OnPost, if set, runs after each recorded post.
type recorder struct {
	mu       sync.Mutex
	live     map[string]bool
	behave   map[string]behavior
	attempts map[string]int
	got      map[string][]protocol.Outbound
	maxSize  int // 0: protocol.MaxMessageSize
	OnPost   func(conn string)
}

var _ connections.Poster = (*recorder)(nil)

func newRecorder(live ...string) *recorder {
	r := &recorder{live: map[string]bool{}, behave: map[string]behavior{}, attempts: map[string]int{}, got: map[string][]protocol.Outbound{}}
	for _, c := range live {
		r.live[c] = true
	}
	return r
}

func (r *recorder) set(conn string, b behavior) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.live[conn] = true
	r.behave[conn] = b
}

func (r *recorder) Post(ctx context.Context, conn string, data []byte) error {
	r.mu.Lock()
	r.attempts[conn]++
	n, b, live, limit := r.attempts[conn], r.behave[conn], r.live[conn], r.maxSize
	r.mu.Unlock()
	if !live {
		return fmt.Errorf("post to %s: %w", conn, connections.ErrGone)
	}
	if limit == 0 {
		limit = protocol.MaxMessageSize
	}
	if len(data) > limit {
		return fmt.Errorf("post %d bytes to %s: %w", len(data), conn, connections.ErrTooLarge)
	}
	if b != nil {
		if err := b(ctx, n, data); err != nil {
			return err
		}
	}
	var f protocol.Outbound
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("recorder: posted frame does not decode: %v", err)
	}
	r.mu.Lock()
	r.got[conn] = append(r.got[conn], f)
	hook := r.OnPost
	r.mu.Unlock()
	if hook != nil {
		hook(conn)
	}
	return nil
}

func (r *recorder) Info(ctx context.Context, conn string) (connections.Info, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.live[conn] {
		return connections.Info{}, connections.ErrGone
	}
	return connections.Info{LastActiveAt: time.Now()}, nil
}

func (r *recorder) Disconnect(ctx context.Context, conn string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.live[conn] {
		return connections.ErrGone
	}
	delete(r.live, conn)
	return nil
}

func (r *recorder) frames(conn string) []protocol.Outbound {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got[conn])
}

func (r *recorder) tries(conn string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.attempts[conn]
}

func (r *recorder) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, fs := range r.got {
		n += len(fs)
	}
	return n
}

// requestEvents is the request events of batch for requestID, in order.
func requestEvents(batch []events.Event, requestID string) []events.Event {
	var out []events.Event
	for _, e := range batch {
		if e.StreamID == events.RequestStream(requestID) {
			out = append(out, e)
		}
	}
	return out
}

// checkFrames asserts that got are exactly the event frames of want, in
// order, each carrying the event's data.
func checkFrames(t *testing.T, conn string, got []protocol.Outbound, want []events.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d frames, want %d: %v", conn, len(got), len(want), versions(got))
	}
	for i, e := range want {
		f := got[i]
		_, id, _ := events.ParseStream(e.StreamID)
		if f.Type != protocol.TypeEvent || f.RequestID != id || f.Version != e.Version || f.Event != e.Type {
			t.Fatalf("%s frame %d: got %s %s@%d %s, want event %s@%d %s", conn, i, f.Type, f.RequestID, f.Version, f.Event, id, e.Version, e.Type)
		}
		if f.Time == nil || !f.Time.Equal(e.Time) || f.Truncated {
			t.Fatalf("%s frame %d: time %v (truncated %v), want %v", conn, i, f.Time, f.Truncated, e.Time)
		}
		jsonEqual(t, f.Data, e.Data)
	}
}

func versions(fs []protocol.Outbound) []string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s@%d", f.RequestID, f.Version))
	}
	return out
}

func jsonEqual(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got %q: %v", got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want %q: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("JSON differs:\n got %s\nwant %s", got, want)
	}
}

// closedEvents lists the connection.closed events of conn's stream.
func closedEvents(t *testing.T, s *stack, conn string) []events.Closed {
	t.Helper()
	evs, err := events.LoadAll(context.Background(), s.Store, events.ConnectionStream(conn), 1)
	if err != nil {
		t.Fatal(err)
	}
	var out []events.Closed
	for _, e := range evs {
		if e.Type == events.ConnectionClosed {
			c, err := events.PayloadAs[*events.Closed](e)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, *c)
		}
	}
	return out
}
