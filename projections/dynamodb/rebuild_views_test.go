package dynamodb_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	eventsdynamodb "github.com/streamer/streamer/events/dynamodb"
	"github.com/streamer/streamer/projections"
	"github.com/streamer/streamer/projections/dynamodb"
)

// TestRebuildRequestViewsWhileAppending rebuilds only the request views on
// DynamoDB while events keep being appended and the live projector (through
// DynamoDB Streams and the Lambda adapter) keeps writing; the connection
// views, with their subscriber index, are carried over from the active
// generation. One finished view of each kind is corrupted in the active
// generation first: the request view comes out right (replayed), the
// connection view as it was (copied, not replayed). The first run is
// interrupted, a run with another selection is refused, the next resumes
// and switches; a reader reading all along never sees a view vanish or go
// back, and the active views end equal to a from-scratch fold of the log.
func TestRebuildRequestViewsWhileAppending(t *testing.T) {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	db := client(t)
	evTable, arn := eventsTable(t, db)
	log := eventsdynamodb.New(db, evTable)
	gens := dynamodb.New(db, newTable(t), dynamodb.WithPageSize(8))
	rng := rand.New(rand.NewPCG(21, 22))
	before := newWorkload(rng, "a", 14, 8)
	during := newWorkload(rng, "b", 8, 4)
	before.appendAll(ctx, t, log, rng, 0)

	lp := startPoller(ctx, t, arn, projections.NewProjector(log, gens, projections.WithLogger(quiet)))
	reader := projections.NewReader(gens)
	caughtUp(t, reader, log)

	// The projection bug, at the views' own versions.
	g1, err := gens.Store("g1", 0)
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

	mr := &monotonicReader{r: reader, ids: workloadIDs(before, during)}
	readCtx, stopReading := context.WithCancel(ctx)
	var readerDone sync.WaitGroup
	readerDone.Go(func() { mr.run(readCtx) })
	appended := make(chan struct{})
	go func() {
		defer close(appended)
		during.appendAll(ctx, t, log, rand.New(rand.NewPCG(23, 24)), 2*time.Millisecond)
	}()
	defer func() { stop(); <-appended }()

	src := dynamodb.NewSource(db, evTable, dynamodb.WithSegments(2), dynamodb.WithPageSize(16))
	opts := projections.RebuildOptions{Source: interruptedSource{Source: src, n: before.events() / 2},
		Views: projections.ViewRequests, FlushEvery: 16, CacheSize: 8, Logger: quiet}
	if _, err := projections.Rebuild(ctx, log, gens, opts); !errors.Is(err, errInterrupted) {
		t.Fatalf("interrupted rebuild: %v", err)
	}
	m, err := gens.Meta(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.Rebuilding != "g2" || m.Views != projections.ViewRequests || m.Checkpoint == "" {
		t.Fatalf("meta after the interruption: %+v; want g2 rebuilding the request views from a checkpoint", m)
	}
	opts.Source = src
	refused := opts
	refused.Views = projections.ViewConnections
	if _, err := projections.Rebuild(ctx, log, gens, refused); !errors.Is(err, projections.ErrRebuildViewsMismatch) {
		t.Fatalf("resume with the connection views: %v; want ErrRebuildViewsMismatch", err)
	}

	res, err := projections.Rebuild(ctx, log, gens, opts)
	if err != nil {
		t.Fatalf("resumed rebuild: %v", err)
	}
	if !res.Resumed || res.Generation != "g2" || res.Previous != "g1" || res.Views != projections.ViewRequests || res.Copied < 8 {
		t.Fatalf("result %+v; want g2 resumed with the request views, the 8 or more connection views carried over", res)
	}
	<-appended
	caughtUp(t, reader, log)
	time.Sleep(20 * time.Millisecond)
	stopReading()
	readerDone.Wait()
	if len(mr.violations) > 0 {
		t.Fatalf("the reader saw %d views go missing or backwards, first: %s", len(mr.violations), mr.violations[0])
	}
	if m, err = gens.Meta(ctx); err != nil || m.Active != "g2" || m.Rebuilding != "" || m.Views != "" {
		t.Fatalf("meta after the switch: %+v, %v", m, err)
	}
	all := scanLog(t, log)
	want := fold(t, all)
	want.Connections["a-c000"] = badConn
	sameViews(t, "active generation after rebuilding the request views", reader, want)
	stop()
	lp.stop(t)
	n := 0
	for _, evs := range all {
		n += len(evs)
	}
	t.Logf("%d events; %d connection views carried over; the reader made %d reads", n, res.Copied, mr.reads.Load())
}
