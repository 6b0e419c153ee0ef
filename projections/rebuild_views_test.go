package projections_test

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/projections"
	viewsqlite "github.com/streamer/streamer/projections/sqlite"
)

// copyThenFail is a crash between the carry-over and the switch: its
// CopyViews copies, then fails.
type copyThenFail struct {
	projections.Generations
	calls int
}

func (g *copyThenFail) CopyViews(ctx context.Context, kind projections.ViewKind, from, to string, fence int64) (int64, error) {
	g.calls++
	if _, err := g.Generations.CopyViews(ctx, kind, from, to, fence); err != nil {
		return 0, err
	}
	return 0, errInterrupted
}

// TestRebuildOneKindWhileAppending rebuilds one kind of views while events
// keep being appended and the projector keeps writing. Before it starts, one
// finished view of each kind is corrupted in the active generation (a
// projection bug): the selected kind is replayed from the log, so its
// corrupted view comes out right; the other kind is carried over, so its
// corrupted view is carried as it is — proof that it was copied and not
// replayed. Everything else ends equal to a from-scratch fold of the log,
// subscriber index included. The first run is interrupted in its replay,
// runs with another selection are refused, the next run crashes after its
// copy, and the last one resumes and switches; a reader reading all along
// never sees a view vanish or go back.
func TestRebuildOneKindWhileAppending(t *testing.T) {
	for _, kind := range []projections.ViewKind{projections.ViewRequests, projections.ViewConnections} {
		t.Run(string(kind), func(t *testing.T) { testRebuildOneKind(t, kind) })
	}
}

func testRebuildOneKind(t *testing.T, kind projections.ViewKind) {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	log, path := openLog(t)
	gens := openViews(t, path)
	rng := rand.New(rand.NewPCG(17, 18))
	before := newWorkload(rng, "a", 40, 20)
	during := newWorkload(rng, "b", 30, 12)
	before.appendAll(ctx, t, log, rng, 0)

	tl := &tailer{log: log, c: projections.NewProjector(log, gens, quiet)}
	var wg sync.WaitGroup
	wg.Go(func() { tl.run(ctx, t) })
	tl.drain(t)

	// The projection bug: one finished view of each kind in g1, at its
	// version, with a field no index depends on changed.
	g1, err := gens.Open(ctx, "g1", 0)
	if err != nil {
		t.Fatal(err)
	}
	badReq, err := g1.GetRequest(ctx, "a-r000")
	if err != nil {
		t.Fatal(err)
	}
	badReq.Message = "corrupted"
	if err := g1.PutRequest(ctx, badReq, badReq.Version); err != nil {
		t.Fatal(err)
	}
	badConn, err := g1.GetConnection(ctx, "a-c000")
	if err != nil {
		t.Fatal(err)
	}
	badConn.CloseReason = "corrupted"
	if err := g1.PutConnection(ctx, badConn, badConn.Version); err != nil {
		t.Fatal(err)
	}

	mr := &monotonicReader{r: projections.NewReader(gens), ids: append(workloadIDs(before), workloadIDs(during)...)}
	readCtx, stopReading := context.WithCancel(ctx)
	var readerDone sync.WaitGroup
	readerDone.Go(func() { mr.run(readCtx) })
	appended := make(chan struct{})
	go func() {
		defer close(appended)
		during.appendAll(ctx, t, log, rand.New(rand.NewPCG(19, 20)), 300*time.Microsecond)
	}()
	defer func() { stop(); <-appended }() // a failed test stops the appends before it ends

	// The first run is interrupted in its replay.
	src := viewsqlite.LogSource(log, 100)
	opts := projections.RebuildOptions{Source: interruptedSource{Source: src, n: 150}, Views: kind, FlushEvery: 50, CacheSize: 16,
		Logger: slog.New(slog.DiscardHandler)}
	if _, err := projections.Rebuild(ctx, log, gens, opts); !errors.Is(err, errInterrupted) {
		t.Fatalf("interrupted rebuild: %v", err)
	}
	m, err := gens.Meta(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.Rebuilding != "g2" || m.Views != kind || m.Checkpoint == "" {
		t.Fatalf("meta after the interruption: %+v; want g2 rebuilding the %s views from a checkpoint", m, kind)
	}

	// Another selection may not resume it: not the other kind, not all.
	for _, other := range []projections.ViewKind{kind.Others()[0], projections.ViewAll, ""} {
		o := opts
		o.Source, o.Views = src, other
		if _, err := projections.Rebuild(ctx, log, gens, o); !errors.Is(err, projections.ErrRebuildViewsMismatch) {
			t.Fatalf("resume with views %q: %v; want ErrRebuildViewsMismatch", other, err)
		}
	}
	if after, err := gens.Meta(ctx); err != nil || after != m {
		t.Fatalf("meta after the refused runs: %+v, %v; want it unchanged: %+v", after, err, m)
	}

	// The second run replays to the end, copies, and crashes.
	crash := &copyThenFail{Generations: gens}
	opts.Source = src
	res, err := projections.Rebuild(ctx, log, crash, opts)
	if !errors.Is(err, errInterrupted) || crash.calls != 1 || !res.Resumed {
		t.Fatalf("run crashing after its copy = %+v, %v (%d copies)", res, err, crash.calls)
	}

	// The last one resumes, copies again and switches.
	res, err = projections.Rebuild(ctx, log, gens, opts)
	if err != nil {
		t.Fatalf("resumed rebuild: %v", err)
	}
	carried := 0
	for _, s := range before.streams {
		if k, _, _ := events.ParseStream(s); !kind.Includes(k) {
			carried++
		}
	}
	if !res.Resumed || res.Generation != "g2" || res.Previous != "g1" || res.Views != kind || res.Copied < int64(carried) {
		t.Fatalf("result %+v; want g2 resumed with the %s views, at least %d views carried over", res, kind, carried)
	}
	<-appended
	tl.drain(t)
	time.Sleep(20 * time.Millisecond) // the reader reads the caught-up views once more
	stopReading()
	readerDone.Wait()
	if len(mr.violations) > 0 {
		t.Fatalf("the reader saw %d views go missing or backwards, first: %s", len(mr.violations), mr.violations[0])
	}
	if m, err = gens.Meta(ctx); err != nil || m.Active != "g2" || m.Rebuilding != "" || m.Views != "" || m.Checkpoint != "" {
		t.Fatalf("meta after the switch: %+v, %v", m, err)
	}

	want := fold(t, allEvents(t, log))
	if kind == projections.ViewRequests {
		want.Connections["a-c000"] = badConn // carried over as it was
	} else {
		want.Requests["a-r000"] = badReq
	}
	r := projections.NewReader(gens)
	sameViews(t, "active generation after rebuilding the "+string(kind)+" views", snapshot(t, r, want), want)
	sameSubscribers(t, r, want)
	stop()
	wg.Wait()
	t.Logf("%d events; %d views carried over; the reader made %d reads", len(allEvents(t, log)), res.Copied, mr.reads.Load())
}

// sameSubscribers checks the subscriber and user indexes of r against the
// folded connection views.
func sameSubscribers(t *testing.T, r projections.ViewReader, want views) {
	t.Helper()
	ctx := context.Background()
	subs, users := map[string][]string{}, map[[2]string][]string{}
	for id := range want.Requests {
		subs[id] = nil
	}
	for id, c := range want.Connections {
		user := [2]string{c.Tenant, c.User}
		if _, ok := users[user]; !ok {
			users[user] = nil // a user with closed connections only lists none
		}
		if !c.Open() {
			continue
		}
		users[user] = append(users[user], id)
		for req := range c.Subscriptions {
			subs[req] = append(subs[req], id)
		}
	}
	for req, w := range subs {
		slices.Sort(w)
		got, err := r.Subscribers(ctx, req)
		if err != nil || !slices.Equal(got, w) {
			t.Fatalf("subscribers of %s = %q, %v; want %q", req, got, err, w)
		}
	}
	for tu, w := range users {
		slices.Sort(w)
		got, err := r.UserConnections(ctx, tu[0], tu[1])
		if err != nil || !slices.Equal(got, w) {
			t.Fatalf("connections of %s/%s = %q, %v; want %q", tu[0], tu[1], got, err, w)
		}
	}
}
