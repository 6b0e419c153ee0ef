package dynamodb_test

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

	"github.com/aws/aws-sdk-go-v2/aws"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/streamer/streamer/events"
	eventsdynamodb "github.com/streamer/streamer/events/dynamodb"
	"github.com/streamer/streamer/feed/lambda"
	"github.com/streamer/streamer/feed/streams"
	"github.com/streamer/streamer/internal/testenv"
	"github.com/streamer/streamer/projections"
	"github.com/streamer/streamer/projections/dynamodb"
)

var quiet = slog.New(slog.DiscardHandler)

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

// eventsTable creates a uniquely named events table (with its stream),
// deleted after the test, and returns its name and stream ARN.
func eventsTable(t *testing.T, db *awsdynamodb.Client) (string, string) {
	t.Helper()
	ctx := context.Background()
	name := testenv.UniqueName(t, "events")
	if err := eventsdynamodb.CreateTable(ctx, db, name); err != nil {
		t.Fatalf("create events table: %v", err)
	}
	t.Cleanup(func() {
		db.DeleteTable(context.Background(), &awsdynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	out, err := db.DescribeTable(ctx, &awsdynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return name, aws.ToString(out.Table.LatestStreamArn)
}

// livePoller runs the projector as AWS does: the DynamoDB Streams poller
// drives the Lambda handler of feed/lambda with the payloads Lambda would
// send.
type livePoller struct {
	done     chan error
	mu       sync.Mutex
	failures []streams.FailedBatch
}

func startPoller(ctx context.Context, t *testing.T, arn string, c *projections.Projector) *livePoller {
	t.Helper()
	lp := &livePoller{done: make(chan error, 1)}
	handler := lambda.NewHandler(c, eventsdynamodb.UnmarshalStreamImage, quiet)
	p, err := streams.New(dynamodbstreams.NewFromConfig(testenv.AWSConfig(t)), handler, streams.Config{
		StreamARN: arn, Region: testenv.Region, BatchSize: 50, MaxRetries: 20,
		PollInterval: 10 * time.Millisecond, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		OnFailure: func(_ context.Context, fb streams.FailedBatch) error {
			lp.mu.Lock()
			defer lp.mu.Unlock()
			lp.failures = append(lp.failures, fb)
			return nil
		},
	}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	go func() { lp.done <- p.Run(ctx) }()
	return lp
}

// stop waits for the poller to end after ctx was cancelled and checks
// that no batch went to the failure destination.
func (lp *livePoller) stop(t *testing.T) {
	t.Helper()
	if err := <-lp.done; !errors.Is(err, context.Canceled) {
		t.Errorf("poller: %v", err)
	}
	lp.mu.Lock()
	defer lp.mu.Unlock()
	for _, fb := range lp.failures {
		t.Errorf("batch of %d records sent to the failure destination: %s", len(fb.Event.Records), fb.Reason)
	}
}

// caughtUp waits until every view r serves is at its stream's last
// version in log.
func caughtUp(t *testing.T, r projections.ViewReader, log events.Store) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(45 * time.Second)
	for {
		behind := ""
		for stream, evs := range scanLog(t, log) {
			kind, id, _ := events.ParseStream(stream)
			var (
				version int64
				err     error
			)
			if kind == events.KindRequest {
				var v projections.RequestView
				v, err = r.GetRequest(ctx, id)
				version = v.Version
			} else {
				var v projections.ConnectionView
				v, err = r.GetConnection(ctx, id)
				version = v.Version
			}
			if last := evs[len(evs)-1].Version; (err != nil && !errors.Is(err, projections.ErrNotFound)) || version != last {
				behind = fmt.Sprintf("%s at version %d of %d (%v)", stream, version, last, err)
				break
			}
		}
		if behind == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the projector did not catch up: %s", behind)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// monotonicReader reads views all the time through a Reader and records
// any view that disappears or goes back to an older version.
type monotonicReader struct {
	r          *projections.Reader
	ids        []string // request IDs, and connection IDs prefixed "c:"
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
			if len(id) > 2 && id[:2] == "c:" {
				var v projections.ConnectionView
				v, err = m.r.GetConnection(ctx, id[2:])
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

func workloadIDs(ws ...workload) []string {
	var ids []string
	for _, w := range ws {
		for _, s := range w.streams {
			kind, id, _ := events.ParseStream(s)
			if kind == events.KindConnection {
				id = "c:" + id
			}
			ids = append(ids, id)
		}
	}
	return ids
}

// TestRebuildWhileAppending rebuilds the views on DynamoDB while events
// keep being appended and the live projector — driven through DynamoDB
// Streams and the Lambda adapter — keeps writing: an interrupted first run,
// then a resumed one from its checkpoint, then the switch. A reader reading
// all along never sees a view vanish or go back, and the active views end
// equal to a from-scratch fold of the log, subscriber index included.
func TestRebuildWhileAppending(t *testing.T) {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	db := client(t)
	evTable, arn := eventsTable(t, db)
	log := eventsdynamodb.New(db, evTable)
	gens := dynamodb.New(db, newTable(t))
	rng := rand.New(rand.NewPCG(7, 8))
	before := newWorkload(rng, "a", 20, 8)
	during := newWorkload(rng, "b", 10, 5)
	before.appendAll(ctx, t, log, rng, 0)

	lp := startPoller(ctx, t, arn, projections.NewProjector(log, gens, projections.WithLogger(quiet)))
	reader := projections.NewReader(gens)
	caughtUp(t, reader, log)

	mr := &monotonicReader{r: reader, ids: workloadIDs(before, during)}
	readCtx, stopReading := context.WithCancel(ctx)
	var readerDone sync.WaitGroup
	readerDone.Go(func() { mr.run(readCtx) })
	appended := make(chan struct{})
	go func() {
		defer close(appended)
		during.appendAll(ctx, t, log, rand.New(rand.NewPCG(9, 10)), 2*time.Millisecond)
	}()

	// A first run is interrupted half way through the log.
	src := dynamodb.NewSource(db, evTable, dynamodb.WithSegments(3), dynamodb.WithPageSize(16))
	opts := projections.RebuildOptions{Source: interruptedSource{Source: src, n: before.events() / 2},
		FlushEvery: 16, CacheSize: 8, Logger: quiet}
	if _, err := projections.Rebuild(ctx, log, gens, opts); !errors.Is(err, errInterrupted) {
		t.Fatalf("interrupted rebuild: %v", err)
	}
	m, err := gens.Meta(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.Rebuilding != "g2" || m.Active != "g1" || m.Checkpoint == "" || m.Done < 16 || m.Epoch != 2 {
		t.Fatalf("meta after the interruption: %+v; want g2 rebuilding from a checkpoint", m)
	}
	interruptedAt, readsBefore := m.Done, mr.reads.Load()

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
	if first := progress[0]; first.Done < interruptedAt || first.Total < first.Done {
		t.Fatalf("the resumed run's first progress %+v: want it to count on from %d, with a total", first, interruptedAt)
	}
	if last := progress[len(progress)-1]; last.Done != last.Total || last.Rate <= 0 {
		t.Fatalf("final progress %+v: want done = total and a rate", last)
	}
	if mr.reads.Load() == readsBefore {
		t.Fatal("the reader did not read during the resumed rebuild")
	}
	<-appended
	caughtUp(t, reader, log)
	time.Sleep(20 * time.Millisecond) // the reader reads the caught-up views once more
	stopReading()
	readerDone.Wait()

	if len(mr.violations) > 0 {
		t.Fatalf("the reader saw %d views go missing or backwards, first: %s", len(mr.violations), mr.violations[0])
	}
	m, err = gens.Meta(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.Active != "g2" || m.Rebuilding != "" || m.Previous != "g1" || m.Epoch != 3 || m.Checkpoint != "" {
		t.Fatalf("meta after the switch: %+v", m)
	}
	want := fold(t, scanLog(t, log))
	sameViews(t, "active generation after the rebuild", reader, want)

	// The old generation can go; readers are not affected.
	if err := projections.DropGeneration(ctx, gens, "g1"); err != nil {
		t.Fatalf("drop g1: %v", err)
	}
	sameViews(t, "active generation after dropping g1", reader, want)
	stop()
	lp.stop(t)
	t.Logf("%d events; the reader made %d reads; %d progress reports, last %+v",
		before.events()+during.events(), mr.reads.Load(), len(progress), progress[len(progress)-1])
}
