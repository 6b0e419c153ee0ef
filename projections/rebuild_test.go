package projections_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamer/streamer/events"
	evsqlite "github.com/streamer/streamer/events/sqlite"
	"github.com/streamer/streamer/feed"
	"github.com/streamer/streamer/projections"
	viewsqlite "github.com/streamer/streamer/projections/sqlite"
)

var errInterrupted = errors.New("interrupted")

// interruptedSource stops its replay with errInterrupted after n events.
type interruptedSource struct {
	projections.Source
	n int
}

func (s interruptedSource) Replay(ctx context.Context, cp string, fn func(events.Event, string) error) error {
	seen := 0
	return s.Source.Replay(ctx, cp, func(e events.Event, next string) error {
		if seen++; seen > s.n {
			return errInterrupted
		}
		return fn(e, next)
	})
}

// tailer is a minimal local feed for the tests: it follows the log by
// position and hands batches to a consumer, retrying a batch until it
// succeeds.
type tailer struct {
	log  *evsqlite.Store
	c    feed.Consumer
	done atomic.Int64 // last position handled
}

func (tl *tailer) run(ctx context.Context, t *testing.T) {
	for ctx.Err() == nil {
		recs, err := tl.log.ReadFrom(ctx, tl.done.Load(), 50)
		if err != nil {
			if ctx.Err() == nil {
				t.Errorf("tail: %v", err)
			}
			return
		}
		if len(recs) == 0 {
			time.Sleep(time.Millisecond)
			continue
		}
		batch := make([]events.Event, len(recs))
		for i, r := range recs {
			batch[i] = r.Event
		}
		if failed := tl.c.Handle(ctx, batch); len(failed) > 0 {
			continue // at least once: the whole batch again
		}
		tl.done.Store(recs[len(recs)-1].Position)
	}
}

// drain waits until the tailer has handled everything in the log.
func (tl *tailer) drain(t *testing.T) {
	t.Helper()
	last, err := tl.log.LastPosition(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for tl.done.Load() < last {
		if time.Now().After(deadline) {
			t.Fatalf("projector stuck at position %d of %d", tl.done.Load(), last)
		}
		time.Sleep(time.Millisecond)
	}
}

// monotonicReader reads views all the time through a Reader and records
// any view that disappears or goes back to an older version.
type monotonicReader struct {
	r          *projections.Reader
	ids        []string // request IDs (and connection IDs prefixed "c:")
	seen       map[string]int64
	reads      atomic.Int64
	violations []string
}

func (m *monotonicReader) run(ctx context.Context) {
	m.seen = map[string]int64{}
	for ctx.Err() == nil {
		for _, id := range m.ids {
			var (
				version int64
				err     error
			)
			if cid, ok := cutConn(id); ok {
				var v projections.ConnectionView
				v, err = m.r.GetConnection(ctx, cid)
				version = v.Version
			} else {
				var v projections.RequestView
				v, err = m.r.GetRequest(ctx, id)
				version = v.Version
			}
			if ctx.Err() != nil {
				return
			}
			m.reads.Add(1)
			prev, had := m.seen[id]
			switch {
			case errors.Is(err, projections.ErrNotFound):
				if had {
					m.violations = append(m.violations, fmt.Sprintf("%s vanished after version %d", id, prev))
				}
			case err != nil:
				m.violations = append(m.violations, fmt.Sprintf("%s: %v", id, err))
			case version < prev:
				m.violations = append(m.violations, fmt.Sprintf("%s went back from version %d to %d", id, prev, version))
			default:
				m.seen[id] = version
			}
		}
	}
}

func cutConn(id string) (string, bool) {
	if len(id) > 2 && id[:2] == "c:" {
		return id[2:], true
	}
	return "", false
}

func workloadIDs(w workload) []string {
	var ids []string
	for _, s := range w.streams {
		kind, id, _ := events.ParseStream(s)
		if kind == events.KindConnection {
			id = "c:" + id
		}
		ids = append(ids, id)
	}
	return ids
}

func TestRebuildWhileAppending(t *testing.T) {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	log, path := openLog(t)
	gens := openViews(t, path) // the views share the event store's file
	rng := rand.New(rand.NewPCG(11, 12))
	before := newWorkload(rng, "a", 60, 20)
	during := newWorkload(rng, "b", 40, 15)
	before.appendAll(ctx, t, log, rng, 0)

	// The live projector, tailing the log.
	tl := &tailer{log: log, c: projections.NewProjector(log, gens, quiet)}
	var wg sync.WaitGroup
	wg.Go(func() { tl.run(ctx, t) })
	tl.drain(t)

	// A reader that never stops reading, and appends that never stop.
	mr := &monotonicReader{r: projections.NewReader(gens), ids: append(workloadIDs(before), workloadIDs(during)...)}
	readCtx, stopReading := context.WithCancel(ctx)
	var readerDone sync.WaitGroup
	readerDone.Go(func() { mr.run(readCtx) })
	appended := make(chan struct{})
	go func() {
		defer close(appended)
		during.appendAll(ctx, t, log, rand.New(rand.NewPCG(13, 14)), 300*time.Microsecond)
	}()

	// A first rebuild run is interrupted part way.
	src := viewsqlite.LogSource(log, 100)
	opts := projections.RebuildOptions{Source: interruptedSource{Source: src, n: 250}, FlushEvery: 64, CacheSize: 16,
		Logger: slog.New(slog.DiscardHandler)}
	if _, err := projections.Rebuild(ctx, log, gens, opts); !errors.Is(err, errInterrupted) {
		t.Fatalf("interrupted rebuild: %v", err)
	}
	m, err := gens.Meta(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.Rebuilding != "g2" || m.Active != "g1" || m.Checkpoint == "" || m.Done < 192 || m.Epoch != 2 || m.Views != projections.ViewAll {
		t.Fatalf("meta after the interruption: %+v; want g2 rebuilding every view from a checkpoint", m)
	}
	readsBefore := mr.reads.Load()

	// The second run resumes from the checkpoint and switches.
	var progress []projections.Progress
	opts.Source = src
	opts.ProgressInterval = time.Millisecond
	opts.Progress = func(p projections.Progress) { progress = append(progress, p) }
	res, err := projections.Rebuild(ctx, log, gens, opts)
	if err != nil {
		t.Fatalf("resumed rebuild: %v", err)
	}
	if !res.Resumed || res.Generation != "g2" || res.Previous != "g1" || res.Events == 0 {
		t.Fatalf("result %+v; want g2 resumed, replacing g1", res)
	}
	time.Sleep(20 * time.Millisecond) // let the reader read the new generation
	<-appended
	tl.drain(t)
	stopReading()
	readerDone.Wait()

	if len(mr.violations) > 0 {
		t.Fatalf("the reader saw %d views go missing or backwards, first: %s", len(mr.violations), mr.violations[0])
	}
	if mr.reads.Load() == readsBefore {
		t.Fatal("the reader did not read during the rebuild")
	}
	m, err = gens.Meta(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.Active != "g2" || m.Rebuilding != "" || m.Previous != "g1" || m.Epoch != 3 || m.Checkpoint != "" || m.Views != "" {
		t.Fatalf("meta after the switch: %+v", m)
	}
	if res.Views != projections.ViewAll || res.Copied != 0 {
		t.Fatalf("result %+v: want every view replayed, none copied", res)
	}
	want := fold(t, allEvents(t, log))
	sameViews(t, "active generation after the rebuild", snapshot(t, projections.NewReader(gens), want), want)
	checkProgress(t, progress, m)

	// The old generation can go; readers are not affected.
	if err := projections.DropGeneration(ctx, gens, "g2"); err == nil {
		t.Fatal("dropping the active generation was allowed")
	}
	if err := projections.DropGeneration(ctx, gens, "g1"); err != nil {
		t.Fatalf("drop g1: %v", err)
	}
	if m, _ := gens.Meta(ctx); m.Previous != "" {
		t.Fatalf("meta still names dropped g1: %+v", m)
	}
	sameViews(t, "active generation after the drop", snapshot(t, projections.NewReader(gens), want), want)
	stop()
	wg.Wait()
	t.Logf("%d events; reader made %d reads; %d progress reports, last %+v", len(allEvents(t, log)), mr.reads.Load(), len(progress), progress[len(progress)-1])
}

func checkProgress(t *testing.T, ps []projections.Progress, _ projections.Meta) {
	t.Helper()
	if len(ps) < 2 {
		t.Fatalf("%d progress reports", len(ps))
	}
	for i, p := range ps {
		if i > 0 && p.Done < ps[i-1].Done {
			t.Fatalf("progress went back: %+v after %+v", p, ps[i-1])
		}
		if p.Total < p.Done || p.Total == 0 {
			t.Fatalf("progress %+v: total must be known and ≥ done", p)
		}
	}
	last := ps[len(ps)-1]
	if last.Done != last.Total || last.Rate <= 0 || last.ETA != 0 {
		t.Fatalf("final progress %+v: want done = total, a rate, no ETA", last)
	}
	if first := ps[0]; first.Done < 192 {
		t.Fatalf("the resumed run started its count at %d, not at the checkpoint", first.Done)
	}
}

// TestRebuildScanSource rebuilds through a plain events.Store Scan (no
// positions): an interrupted run starts its scan again and still ends
// equal to the fold.
func TestRebuildScanSource(t *testing.T) {
	ctx := context.Background()
	log, evs, want := buildLog(t, 21, 30, 10)
	gens := openViews(t, log.path)
	p := projections.NewProjector(log, gens, quiet)
	if failed := p.Handle(ctx, evs); len(failed) > 0 {
		t.Fatal(failed)
	}
	src := projections.ScanSource(log, events.ScanOptions{})
	opts := projections.RebuildOptions{Source: interruptedSource{Source: src, n: len(evs) / 2}, FlushEvery: 10, Logger: slog.New(slog.DiscardHandler)}
	if _, err := projections.Rebuild(ctx, log, gens, opts); !errors.Is(err, errInterrupted) {
		t.Fatalf("interrupted: %v", err)
	}
	opts.Source = src
	var last projections.Progress
	opts.Progress = func(p projections.Progress) { last = p }
	res, err := projections.Rebuild(ctx, log, gens, opts)
	if err != nil || !res.Resumed || res.Events != int64(len(evs)) {
		t.Fatalf("rebuild = %+v, %v; want a resumed full rescan of %d events", res, err, len(evs))
	}
	if last.Total != 0 || last.Done != int64(len(evs)) {
		t.Fatalf("progress %+v: a scan source has no total", last)
	}
	sameViews(t, "after the rebuild", snapshot(t, projections.NewReader(gens), want), want)
}

// TestAbortRebuild: an abandoned rebuild leaves the active generation
// alone, its own generation dropped, and the projector writing only the
// active one again.
func TestAbortRebuild(t *testing.T) {
	ctx := context.Background()
	log, evs, want := buildLog(t, 31, 20, 5)
	gens := openViews(t, log.path)
	p := projections.NewProjector(log, gens, quiet)
	half := len(evs) / 2
	if failed := p.Handle(ctx, evs[:half]); len(failed) > 0 {
		t.Fatal(failed)
	}
	opts := projections.RebuildOptions{Source: interruptedSource{Source: viewsqlite.LogSource(log.Store, 0), n: 40}, FlushEvery: 10, Logger: slog.New(slog.DiscardHandler)}
	if _, err := projections.Rebuild(ctx, log, gens, opts); !errors.Is(err, errInterrupted) {
		t.Fatalf("interrupted: %v", err)
	}
	// While g2 is being rebuilt the projector writes it too.
	if failed := p.Handle(ctx, evs[half:]); len(failed) > 0 {
		t.Fatal(failed)
	}
	g2, err := gens.Open(ctx, "g2", 0)
	if err != nil {
		t.Fatal(err)
	}
	lastEvent := evs[len(evs)-1]
	kind, id, _ := events.ParseStream(lastEvent.StreamID)
	if kind == events.KindRequest {
		if v, err := g2.GetRequest(ctx, id); err != nil || v.Version != lastEvent.Version {
			t.Fatalf("g2 view of %s = v%d, %v; the projector must write the rebuilding generation", id, v.Version, err)
		}
	}
	if err := projections.AbortRebuild(ctx, gens); err != nil {
		t.Fatalf("abort: %v", err)
	}
	m, err := gens.Meta(ctx)
	if err != nil || m.Active != "g1" || m.Rebuilding != "" || m.Epoch != 3 {
		t.Fatalf("meta after abort: %+v, %v", m, err)
	}
	if _, err := g2.GetRequest(ctx, id); !errors.Is(err, projections.ErrNotFound) {
		t.Fatalf("aborted generation still has views: %v", err)
	}
	sameViews(t, "active generation after the abort", snapshot(t, projections.NewReader(gens), want), want)
	// A new rebuild gets a fresh generation name.
	res, err := projections.Rebuild(ctx, log, gens, projections.RebuildOptions{Source: viewsqlite.LogSource(log.Store, 0), Logger: slog.New(slog.DiscardHandler)})
	if err != nil || res.Generation != "g4" || res.Resumed {
		t.Fatalf("rebuild after abort = %+v, %v; want a fresh g4", res, err)
	}
	sameViews(t, "after the second rebuild", snapshot(t, projections.NewReader(gens), want), want)
}

// TestSweepExpired deletes expired connection views in every live
// generation.
func TestSweepExpired(t *testing.T) {
	ctx := context.Background()
	log, evs, want := buildLog(t, 41, 5, 12)
	gens := openViews(t, log.path)
	if failed := projections.NewProjector(log, gens, quiet).Handle(ctx, evs); len(failed) > 0 {
		t.Fatal(failed)
	}
	closedN := 0
	for _, v := range want.Connections {
		if !v.Open() {
			closedN++
		}
	}
	now := time.Now().Add(25 * time.Hour) // past the retention of closed ones, before open ones expire
	n, err := projections.SweepExpired(ctx, gens, now, 100)
	if err != nil || n != closedN || closedN == 0 {
		t.Fatalf("swept %d, %v; want the %d closed connections", n, err, closedN)
	}
	r := projections.NewReader(gens)
	for id, v := range want.Connections {
		_, err := r.GetConnection(ctx, id)
		if v.Open() != (err == nil) {
			t.Fatalf("connection %s (open %v) after the sweep: %v", id, v.Open(), err)
		}
	}
}
