package projections_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/streamer/streamer/events"
	evsqlite "github.com/streamer/streamer/events/sqlite"
	"github.com/streamer/streamer/feed"
	"github.com/streamer/streamer/projections"
)

var quiet = projections.WithLogger(slog.New(slog.DiscardHandler))

var errInjected = errors.New("injected fault")

// faults injects failures into view store calls.
type faults struct {
	mu       sync.Mutex
	rng      *rand.Rand
	read     float64 // a read fails
	before   float64 // a write fails before it is made
	after    float64 // a write is made, then reported failed (crash after write)
	conflict float64 // a write fails as if a concurrent writer had won
	injected int
}

func (f *faults) roll(p float64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p > 0 && f.rng.Float64() < p {
		f.injected++
		return true
	}
	return false
}

func (f *faults) beforeWrite() error {
	switch {
	case f.roll(f.before):
		return errInjected
	case f.roll(f.conflict):
		return projections.ErrViewConflict
	}
	return nil
}

// faultyStore is a ViewStore decorated with faults.
type faultyStore struct {
	projections.ViewStore
	f *faults
}

func (s faultyStore) GetRequest(ctx context.Context, id string) (projections.RequestView, error) {
	if s.f.roll(s.f.read) {
		return projections.RequestView{}, errInjected
	}
	return s.ViewStore.GetRequest(ctx, id)
}

func (s faultyStore) GetConnection(ctx context.Context, id string) (projections.ConnectionView, error) {
	if s.f.roll(s.f.read) {
		return projections.ConnectionView{}, errInjected
	}
	return s.ViewStore.GetConnection(ctx, id)
}

func (s faultyStore) PutRequest(ctx context.Context, v projections.RequestView, expected int64) error {
	if err := s.f.beforeWrite(); err != nil {
		return err
	}
	if err := s.ViewStore.PutRequest(ctx, v, expected); err != nil {
		return err
	}
	if s.f.roll(s.f.after) {
		return errInjected
	}
	return nil
}

func (s faultyStore) PutConnection(ctx context.Context, v projections.ConnectionView, expected int64) error {
	if err := s.f.beforeWrite(); err != nil {
		return err
	}
	if err := s.ViewStore.PutConnection(ctx, v, expected); err != nil {
		return err
	}
	if s.f.roll(s.f.after) {
		return errInjected
	}
	return nil
}

// faultyGens opens faulty stores.
type faultyGens struct {
	projections.Generations
	f *faults
}

func (g faultyGens) Open(ctx context.Context, gen string, fence int64) (projections.ViewStore, error) {
	s, err := g.Generations.Open(ctx, gen, fence)
	if err != nil {
		return nil, err
	}
	return faultyStore{ViewStore: s, f: g.f}, nil
}

// interleave returns evs re-ordered across streams at random, each
// stream's events keeping their order.
func interleave(rng *rand.Rand, evs []events.Event) []events.Event {
	order, by := []string{}, map[string][]events.Event{}
	for _, e := range evs {
		if _, ok := by[e.StreamID]; !ok {
			order = append(order, e.StreamID)
		}
		by[e.StreamID] = append(by[e.StreamID], e)
	}
	out := make([]events.Event, 0, len(evs))
	for len(order) > 0 {
		i := rng.IntN(len(order))
		s := order[i]
		out = append(out, by[s][0])
		if by[s] = by[s][1:]; len(by[s]) == 0 {
			order = append(order[:i], order[i+1:]...)
		}
	}
	return out
}

// feedSim delivers a sequence of events to a consumer the way the feed
// contract allows: random batch sizes; failed streams redelivered from the
// failure on; crashes after Handle but before the checkpoint (the whole
// batch again); lost checkpoints (a replay of earlier events); cancelled
// contexts mid-batch.
type feedSim struct {
	rng       *rand.Rand
	maxBatch  int
	crash     float64 // crash between the consumer's writes and the checkpoint
	rewind    float64 // checkpoint lost: start again a few events back
	cancel    float64 // context cancelled while Handle runs
	crashes   int
	failures  int
	cancelled int
}

func (f *feedSim) run(c feed.Consumer, evs []events.Event) error {
	pos := 0
	var retry []events.Event
	index := make(map[string]int, len(evs)) // event ID → position in evs
	for i, e := range evs {
		index[e.ID] = i
	}
	for round := 0; pos < len(evs) || len(retry) > 0; round++ {
		if round > 100*len(evs)+100 {
			return fmt.Errorf("feed made no progress: at %d of %d with %d to retry", pos, len(evs), len(retry))
		}
		next := min(pos+1+f.rng.IntN(f.maxBatch), len(evs))
		batch := append(append([]events.Event(nil), retry...), evs[pos:next]...)
		ctx, cancel := context.WithCancel(context.Background())
		if f.rng.Float64() < f.cancel {
			f.cancelled++
			time.AfterFunc(time.Duration(f.rng.IntN(300))*time.Microsecond, cancel)
		}
		failed := c.Handle(ctx, batch)
		cancel()
		if f.rng.Float64() < f.crash {
			f.crashes++ // the checkpoint was not committed: the same batch comes again
			continue
		}
		if f.rng.Float64() < f.rewind && next > 0 {
			// The checkpoint is lost: the feed starts again from an earlier
			// one, which can never be past an event still waiting for a
			// retry (a real feed does not commit beyond its earliest
			// unprocessed event).
			back := max(0, next-1-f.rng.IntN(2*f.maxBatch))
			for _, e := range retry {
				back = min(back, index[e.ID])
			}
			pos, retry = back, nil
			continue
		}
		pos, retry = next, redeliveries(batch, failed)
		f.failures += len(failed)
	}
	return nil
}

// redeliveries are the events of batch the feed delivers again after
// failed: every event of a failed stream from the failed one on.
func redeliveries(batch []events.Event, failed []feed.Failure) []events.Event {
	from := map[string]int64{}
	for _, f := range failed {
		from[f.Stream] = f.Version
	}
	var out []events.Event
	for _, e := range batch {
		if v, ok := from[e.StreamID]; ok && e.Version >= v {
			out = append(out, e)
		}
	}
	return out
}

// buildLog appends a random workload and returns its events in log order
// with their from-scratch projection.
func buildLog(t *testing.T, seed uint64, requests, connections int) (*testLog, []events.Event, views) {
	t.Helper()
	log, path := openLog(t)
	rng := rand.New(rand.NewPCG(seed, 1))
	newWorkload(rng, "w", requests, connections).appendAll(context.Background(), t, log, rng, 0)
	evs := allEvents(t, log)
	return &testLog{Store: log, path: path}, evs, fold(t, evs)
}

type testLog struct {
	*evsqlite.Store
	path string
}

func TestProjectorCleanRunEqualsFold(t *testing.T) {
	log, evs, want := buildLog(t, 1, 40, 15)
	gens := openViews(t, log.path)
	p := projections.NewProjector(log, gens, quiet)
	for i := 0; i < len(evs); i += 25 {
		if failed := p.Handle(context.Background(), evs[i:min(i+25, len(evs))]); len(failed) > 0 {
			t.Fatalf("clean batch at %d failed: %+v", i, failed)
		}
	}
	sameViews(t, "clean run", snapshot(t, projections.NewReader(gens), want), want)
	t.Logf("%d events, %d requests, %d connections", len(evs), len(want.Requests), len(want.Connections))
}

func TestProjectorFaultInjection(t *testing.T) {
	log, evs, want := buildLog(t, 2, 40, 15)

	// The clean run: in log order, batches of 25, no faults.
	cleanViews := openViews(t, log.path+".clean")
	clean := projections.NewProjector(log, cleanViews, quiet)
	if err := (&feedSim{rng: rand.New(rand.NewPCG(7, 7)), maxBatch: 25}).run(clean, evs); err != nil {
		t.Fatal(err)
	}
	cleanRun := snapshot(t, projections.NewReader(cleanViews), want)
	sameViews(t, "clean run against the fold", cleanRun, want)

	for seed := uint64(1); seed <= 4; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		gens := openViews(t, log.path+".faulty"+string(rune('0'+seed)))
		f := &faults{rng: rand.New(rand.NewPCG(seed, 3)), read: 0.03, before: 0.05, after: 0.05, conflict: 0.05}
		p := projections.NewProjector(log, faultyGens{Generations: gens, f: f}, quiet, projections.WithRetries(2))
		sim := &feedSim{rng: rng, maxBatch: 30, crash: 0.15, rewind: 0.1, cancel: 0.1}
		if err := sim.run(p, interleave(rng, evs)); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		sameViews(t, "faulty run", snapshot(t, projections.NewReader(gens), want), cleanRun)
		t.Logf("seed %d: %d faults injected, %d crashes, %d stream failures, %d cancelled batches",
			seed, f.injected, sim.crashes, sim.failures, sim.cancelled)
		if f.injected == 0 || sim.crashes == 0 || sim.failures == 0 {
			t.Fatalf("seed %d injected too little to mean anything", seed)
		}
	}
}

// TestProjectorCatchesUpGaps delivers only the last event of every stream:
// everything before it comes from the log.
func TestProjectorCatchesUpGaps(t *testing.T) {
	log, evs, want := buildLog(t, 3, 20, 10)
	last := map[string]events.Event{}
	var order []string
	for _, e := range evs {
		if _, ok := last[e.StreamID]; !ok {
			order = append(order, e.StreamID)
		}
		last[e.StreamID] = e
	}
	var batch []events.Event
	for _, s := range order {
		batch = append(batch, last[s])
	}
	gens := openViews(t, log.path)
	p := projections.NewProjector(log, gens, quiet)
	if failed := p.Handle(context.Background(), batch); len(failed) > 0 {
		t.Fatalf("failures: %+v", failed)
	}
	sameViews(t, "after catch-up", snapshot(t, projections.NewReader(gens), want), want)
	// Delivering everything again changes nothing.
	if failed := p.Handle(context.Background(), evs); len(failed) > 0 {
		t.Fatalf("redelivery failures: %+v", failed)
	}
	sameViews(t, "after redelivery", snapshot(t, projections.NewReader(gens), want), want)
}

// TestProjectorsRace runs two projectors over the same events at once, as
// two feed workers or a redelivery overlapping a retry would: the guarded
// writes conflict and are retried, and no update is lost.
func TestProjectorsRace(t *testing.T) {
	log, evs, want := buildLog(t, 4, 30, 10)
	gens := openViews(t, log.path)
	var wg sync.WaitGroup
	for i := range 3 {
		rng := rand.New(rand.NewPCG(uint64(i), 5))
		order := interleave(rng, evs)
		p := projections.NewProjector(log, gens, quiet, projections.WithRetries(20))
		wg.Go(func() {
			if err := (&feedSim{rng: rng, maxBatch: 10}).run(p, order); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	sameViews(t, "after racing projectors", snapshot(t, projections.NewReader(gens), want), want)
}

// TestProjectorFailureNamesFirstUnreflectedEvent: a stream whose write
// keeps failing is reported from the first event the views lack.
func TestProjectorFailureNamesFirstUnreflectedEvent(t *testing.T) {
	log, evs, _ := buildLog(t, 5, 5, 0)
	gens := openViews(t, log.path)
	p := projections.NewProjector(log, gens, quiet)
	by := map[string][]events.Event{}
	var mine []events.Event
	for _, e := range evs {
		if by[e.StreamID] = append(by[e.StreamID], e); len(by[e.StreamID]) > len(mine) {
			mine = by[e.StreamID]
		}
	}
	stream := mine[0].StreamID
	if len(mine) < 3 {
		t.Fatalf("stream %s has only %d events", stream, len(mine))
	}
	if failed := p.Handle(context.Background(), mine[:2]); len(failed) > 0 {
		t.Fatal(failed)
	}
	broken := projections.NewProjector(log, faultyGens{Generations: gens, f: &faults{rng: rand.New(rand.NewPCG(1, 1)), before: 1}}, quiet)
	failed := broken.Handle(context.Background(), mine)
	if len(failed) != 1 || failed[0].EventID != mine[2].ID || failed[0].Version != 3 || failed[0].Stream != stream || !errors.Is(failed[0].Err, errInjected) {
		t.Fatalf("failures %+v; want one naming %s@3 with the injected error", failed, stream)
	}
	// A cancelled context fails every stream without writing.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	failed = p.Handle(ctx, mine)
	if len(failed) != 1 || failed[0].Version != 3 {
		t.Fatalf("cancelled: failures %+v; want one naming version 3", failed)
	}
}
