package eventbridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awseventbridge "github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/streamer/streamer/bus"
	"github.com/streamer/streamer/bus/bustest"
	"github.com/streamer/streamer/bus/eventbridge"
	evsqlite "github.com/streamer/streamer/events/sqlite"
	"github.com/streamer/streamer/internal/awsrest"
	"github.com/streamer/streamer/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// ebClient is our PutEvents client for moto.
func ebClient(t testing.TB) *eventbridge.Client {
	t.Helper()
	c, err := eventbridge.NewClient(testenv.AWSConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sdkClient is the SDK's EventBridge client for moto (setting up buses,
// rules and targets; the differential tests). Its own retries are off.
func sdkClient(t testing.TB) *awseventbridge.Client {
	return awseventbridge.NewFromConfig(testenv.AWSConfig(t), func(o *awseventbridge.Options) {
		o.RetryMaxAttempts = 1
	})
}

// newRun appends a run of n requests to a fresh SQLite store.
func newRun(t *testing.T, n int) (*evsqlite.Store, bustest.Run) {
	t.Helper()
	store, err := evsqlite.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	run, err := bustest.AppendRun(context.Background(), store, n)
	if err != nil {
		t.Fatal(err)
	}
	return store, run
}

// target is a bus with one rule whose target is an SQS queue.
type target struct {
	bus string
	url string
	sq  *sqs.Client
}

// newTarget creates a bus with a rule (pattern) targeting a new queue; all
// are deleted after the test.
//
// The target's input transformer passes the whole event on
// (<aws.events.event.json>) with a one-entry paths map: moto parses every
// JSONPath of a target's paths map for each delivery (about 0.1 s each),
// and without a transformer it parses eight.
func newTarget(t *testing.T, pattern string) target {
	t.Helper()
	ctx := context.Background()
	cfg := testenv.AWSConfig(t)
	eb := sdkClient(t)
	sq := sqs.NewFromConfig(cfg)
	bus := testenv.UniqueName(t, "bus")
	q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(testenv.UniqueName(t, "q"))})
	if err != nil {
		t.Fatalf("create queue: %v", err)
	}
	attrs, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		t.Fatalf("queue arn: %v", err)
	}
	if _, err := eb.CreateEventBus(ctx, &awseventbridge.CreateEventBusInput{Name: aws.String(bus)}); err != nil {
		t.Fatalf("create bus: %v", err)
	}
	if _, err := eb.PutRule(ctx, &awseventbridge.PutRuleInput{Name: aws.String("r"), EventBusName: aws.String(bus), EventPattern: aws.String(pattern)}); err != nil {
		t.Fatalf("put rule: %v", err)
	}
	if _, err := eb.PutTargets(ctx, &awseventbridge.PutTargetsInput{
		Rule: aws.String("r"), EventBusName: aws.String(bus),
		Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]),
			InputTransformer: &ebtypes.InputTransformer{InputPathsMap: map[string]string{"id": "$.id"}, InputTemplate: aws.String("<aws.events.event.json>")}}},
	}); err != nil {
		t.Fatalf("put target: %v", err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		eb.RemoveTargets(ctx, &awseventbridge.RemoveTargetsInput{Rule: aws.String("r"), EventBusName: aws.String(bus), Ids: []string{"q"}})
		eb.DeleteRule(ctx, &awseventbridge.DeleteRuleInput{Name: aws.String("r"), EventBusName: aws.String(bus)})
		eb.DeleteEventBus(ctx, &awseventbridge.DeleteEventBusInput{Name: aws.String(bus)})
		sq.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: q.QueueUrl})
	})
	return target{bus: bus, url: aws.ToString(q.QueueUrl), sq: sq}
}

// newBus creates a bus without rules, deleted after the test.
func newBus(t *testing.T) string {
	t.Helper()
	eb := sdkClient(t)
	name := testenv.UniqueName(t, "bus")
	if _, err := eb.CreateEventBus(context.Background(), &awseventbridge.CreateEventBusInput{Name: aws.String(name)}); err != nil {
		t.Fatalf("create bus: %v", err)
	}
	t.Cleanup(func() {
		eb.DeleteEventBus(context.Background(), &awseventbridge.DeleteEventBusInput{Name: aws.String(name)})
	})
	return name
}

// received drains the queue (moto delivers inside PutEvents, so an empty
// receive means everything is there) and decodes each body as the
// EventBridge event a subscriber gets, keeping the raw detail too.
func (tg target) received(t *testing.T) []awsevents.EventBridgeEvent {
	t.Helper()
	ctx := context.Background()
	var out []awsevents.EventBridgeEvent
	for {
		res, err := tg.sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(tg.url), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		if len(res.Messages) == 0 {
			return out
		}
		for _, m := range res.Messages {
			var ev awsevents.EventBridgeEvent
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ev); err != nil {
				t.Fatalf("queue body %q: %v", aws.ToString(m.Body), err)
			}
			out = append(out, ev)
		}
	}
}

// faults is a decorator of the Publisher's API that injects PutEvents
// failures around the real HTTP client talking to moto.
type faults struct {
	next eventbridge.API

	mu sync.Mutex
	// throttle answers the next calls with a ThrottlingException (HTTP
	// 400) before they reach EventBridge.
	throttle int
	// dropCalls: in the next calls, every dropEvery-th entry (1-based) is
	// not sent and is answered with ErrorCode InternalFailure, as
	// EventBridge reports entries it failed.
	dropCalls, dropEvery int
	// lieCalls: in the next calls, every lieEvery-th entry is sent (and
	// delivered) but reported as failed: an ambiguous failure that makes the
	// publisher send it again.
	lieCalls, lieEvery int
	// permanentID: an entry whose detail contains it always fails with
	// InvalidArgument.
	permanentID string

	calls   int   // PutEvents calls that reached the decorator
	entries []int // entries per call
	sizes   []int // summed entry sizes per call
	failed  int   // entries reported failed
	details []string
}

var _ eventbridge.API = (*faults)(nil)

// over returns f decorating a Client of moto's test configuration.
func (f *faults) over(t testing.TB) *faults {
	f.next = ebClient(t)
	return f
}

func (f *faults) counts() (calls int, entries []int, failed int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, append([]int(nil), f.entries...), f.failed
}

// PutEvents records the call, leaves out the entries to drop, sends the
// rest (through send, which may throttle), and merges the injected entry
// failures into the answer, in the order of entries.
func (f *faults) PutEvents(ctx context.Context, entries []eventbridge.Entry) ([]eventbridge.ResultEntry, error) {
	f.mu.Lock()
	f.calls++
	f.entries = append(f.entries, len(entries))
	size := 0
	for _, e := range entries {
		size += bus.EntrySize(e.Source, e.DetailType, []byte(e.Detail), !e.Time.IsZero(), e.Resources)
		f.details = append(f.details, e.Detail)
	}
	f.sizes = append(f.sizes, size)
	code := make([]string, len(entries)) // injected failure of entries[i]
	lie := make([]bool, len(entries))
	for i, e := range entries {
		switch {
		case f.permanentID != "" && strings.Contains(e.Detail, f.permanentID):
			code[i] = "InvalidArgument"
		case f.dropCalls > 0 && (i+1)%f.dropEvery == 0:
			code[i] = "InternalFailure"
		}
		lie[i] = f.lieCalls > 0 && (i+1)%f.lieEvery == 0
	}
	if f.dropCalls > 0 {
		f.dropCalls--
	}
	if f.lieCalls > 0 {
		f.lieCalls--
	}
	f.mu.Unlock()

	var sent []eventbridge.Entry
	for i, e := range entries {
		if code[i] == "" {
			sent = append(sent, e)
		}
	}
	var res []eventbridge.ResultEntry
	if len(sent) > 0 {
		var err error
		if res, err = f.send(ctx, sent); err != nil {
			return nil, err
		}
		if len(res) != len(sent) {
			return nil, fmt.Errorf("moto answered %d results for %d entries", len(res), len(sent))
		}
	}
	merged := make([]eventbridge.ResultEntry, 0, len(entries))
	j := 0
	for i := range entries {
		if code[i] == "" {
			r := res[j]
			j++
			if !lie[i] || r.Failed() {
				merged = append(merged, r)
				continue
			}
			code[i] = "ThrottlingException"
		}
		merged = append(merged, eventbridge.ResultEntry{ErrorCode: code[i], ErrorMessage: "injected by the test"})
		f.mu.Lock()
		f.failed++
		f.mu.Unlock()
	}
	return merged, nil
}

// send throttles the call, as EventBridge would answer it (the error is
// decoded from a real JSON 1.1 error response by awsrest.ErrorOf, as the
// client decodes it), or passes it on to moto.
func (f *faults) send(ctx context.Context, entries []eventbridge.Entry) ([]eventbridge.ResultEntry, error) {
	f.mu.Lock()
	hit := f.throttle > 0
	if hit {
		f.throttle--
	}
	f.mu.Unlock()
	if !hit {
		return f.next.PutEvents(ctx, entries)
	}
	return nil, awsrest.ErrorOf(&awsrest.Response{
		StatusCode: 400,
		Header:     http.Header{"Content-Type": {eventbridge.ContentType}, "X-Amzn-Requestid": {"injected"}},
		Body:       []byte(`{"__type":"ThrottlingException","message":"Rate exceeded (injected by the test)"}`),
	})
}

// fast keeps the retries quick in the tests.
const fastBackoff = time.Millisecond

func describe(ev awsevents.EventBridgeEvent) string {
	return fmt.Sprintf("%s %s %.80s", ev.Source, ev.DetailType, ev.Detail)
}
