package eventbridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/streamer/streamer/bus/bustest"
	evsqlite "github.com/streamer/streamer/events/sqlite"
	"github.com/streamer/streamer/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// ebClient is an EventBridge client for moto with extra middleware. The
// SDK's own retries are off, so that the Publisher's retries are what the
// tests see.
func ebClient(t testing.TB, apiOptions ...func(*middleware.Stack) error) *eventbridge.Client {
	return eventbridge.NewFromConfig(testenv.AWSConfig(t), func(o *eventbridge.Options) {
		o.RetryMaxAttempts = 1
		o.APIOptions = append(o.APIOptions, apiOptions...)
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
	eb := eventbridge.NewFromConfig(cfg)
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
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(bus)}); err != nil {
		t.Fatalf("create bus: %v", err)
	}
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r"), EventBusName: aws.String(bus), EventPattern: aws.String(pattern)}); err != nil {
		t.Fatalf("put rule: %v", err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{
		Rule: aws.String("r"), EventBusName: aws.String(bus),
		Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]),
			InputTransformer: &ebtypes.InputTransformer{InputPathsMap: map[string]string{"id": "$.id"}, InputTemplate: aws.String("<aws.events.event.json>")}}},
	}); err != nil {
		t.Fatalf("put target: %v", err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String("r"), EventBusName: aws.String(bus), Ids: []string{"q"}})
		eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String("r"), EventBusName: aws.String(bus)})
		eb.DeleteEventBus(ctx, &eventbridge.DeleteEventBusInput{Name: aws.String(bus)})
		sq.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: q.QueueUrl})
	})
	return target{bus: bus, url: aws.ToString(q.QueueUrl), sq: sq}
}

// newBus creates a bus without rules, deleted after the test.
func newBus(t *testing.T) string {
	t.Helper()
	eb := eventbridge.NewFromConfig(testenv.AWSConfig(t))
	name := testenv.UniqueName(t, "bus")
	if _, err := eb.CreateEventBus(context.Background(), &eventbridge.CreateEventBusInput{Name: aws.String(name)}); err != nil {
		t.Fatalf("create bus: %v", err)
	}
	t.Cleanup(func() {
		eb.DeleteEventBus(context.Background(), &eventbridge.DeleteEventBusInput{Name: aws.String(name)})
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

// faults injects PutEvents failures as SDK middleware.
type faults struct {
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

	calls   int   // PutEvents calls that reached the middleware
	entries []int // entries per call
	sizes   []int // summed entry sizes per call
	failed  int   // entries reported failed
	details []string
}

func (f *faults) counts() (calls int, entries []int, failed int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, append([]int(nil), f.entries...), f.failed
}

// apiOptions are the middleware: partial failures at the Initialize step
// (where the input and output are typed), throttling at the Deserialize
// step (a faked HTTP response that the SDK's real deserializer turns into
// the typed API error).
func (f *faults) apiOptions() []func(*middleware.Stack) error {
	partial := func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("partialFailures",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				input, ok := in.Parameters.(*eventbridge.PutEventsInput)
				if !ok {
					return next.HandleInitialize(ctx, in)
				}
				f.mu.Lock()
				f.calls++
				f.entries = append(f.entries, len(input.Entries))
				size := 0
				for _, e := range input.Entries {
					size += len(aws.ToString(e.Source)) + len(aws.ToString(e.DetailType)) + len(aws.ToString(e.Detail)) + 14
					f.details = append(f.details, aws.ToString(e.Detail))
				}
				f.sizes = append(f.sizes, size)
				fail := make([]bool, len(input.Entries))
				lie := make([]bool, len(input.Entries))
				for i, e := range input.Entries {
					if f.permanentID != "" && strings.Contains(aws.ToString(e.Detail), f.permanentID) {
						fail[i] = true
					}
					if f.dropCalls > 0 && (i+1)%f.dropEvery == 0 {
						fail[i] = true
					}
					if f.lieCalls > 0 && (i+1)%f.lieEvery == 0 {
						lie[i] = true
					}
				}
				if f.dropCalls > 0 {
					f.dropCalls--
				}
				if f.lieCalls > 0 {
					f.lieCalls--
				}
				f.mu.Unlock()

				sent := *input
				sent.Entries = nil
				for i, e := range input.Entries {
					if !fail[i] {
						sent.Entries = append(sent.Entries, e)
					}
				}
				var res *eventbridge.PutEventsOutput
				out := middleware.InitializeOutput{}
				var md middleware.Metadata
				if len(sent.Entries) > 0 {
					in.Parameters = &sent
					var err error
					out, md, err = next.HandleInitialize(ctx, in)
					if err != nil {
						return out, md, err
					}
					res = out.Result.(*eventbridge.PutEventsOutput)
				} else {
					res = &eventbridge.PutEventsOutput{}
				}
				merged := &eventbridge.PutEventsOutput{FailedEntryCount: res.FailedEntryCount}
				j := 0
				for i := range input.Entries {
					code := ""
					switch {
					case fail[i] && f.permanentID != "" && strings.Contains(aws.ToString(input.Entries[i].Detail), f.permanentID):
						code = "InvalidArgument"
					case fail[i]:
						code = "InternalFailure"
					}
					if code == "" {
						r := res.Entries[j]
						j++
						if !lie[i] {
							merged.Entries = append(merged.Entries, r)
							continue
						}
						code = "ThrottlingException"
					}
					merged.Entries = append(merged.Entries, ebtypes.PutEventsResultEntry{ErrorCode: aws.String(code), ErrorMessage: aws.String("injected by the test")})
					merged.FailedEntryCount++
					f.mu.Lock()
					f.failed++
					f.mu.Unlock()
				}
				out.Result = merged
				return out, md, nil
			}), middleware.Before)
	}
	throttle := func(stack *middleware.Stack) error {
		return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("throttle",
			func(ctx context.Context, req middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
				f.mu.Lock()
				hit := f.throttle > 0
				if hit {
					f.throttle--
				}
				f.mu.Unlock()
				if !hit {
					return next.HandleDeserialize(ctx, req)
				}
				body := `{"__type":"ThrottlingException","message":"Rate exceeded (injected by the test)"}`
				resp := &http.Response{
					StatusCode:    400,
					Header:        http.Header{"Content-Type": {"application/x-amz-json-1.1"}, "X-Amzn-Requestid": {"injected"}},
					Body:          io.NopCloser(strings.NewReader(body)),
					ContentLength: int64(len(body)),
				}
				return middleware.DeserializeOutput{RawResponse: &smithyhttp.Response{Response: resp}}, middleware.Metadata{}, nil
			}), middleware.After)
	}
	return []func(*middleware.Stack) error{partial, throttle}
}

// fast keeps the retries quick in the tests.
const fastBackoff = time.Millisecond

func describe(ev awsevents.EventBridgeEvent) string {
	return fmt.Sprintf("%s %s %.80s", ev.Source, ev.DetailType, ev.Detail)
}
