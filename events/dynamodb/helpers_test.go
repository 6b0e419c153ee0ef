package dynamodb_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/streamer/streamer/events"
	ddbstore "github.com/streamer/streamer/events/dynamodb"
	"github.com/streamer/streamer/internal/testenv"
)

var meta = events.Meta{Actor: "u1", Tenant: "t1", Source: "dynamodb-test"}

func submitted() events.Event {
	return events.MustNew(events.RequestSubmitted, events.Submitted{Action: "echo", Owner: "u1", Tenant: "t1"}, meta)
}

func started(attempt int) events.Event {
	return events.MustNew(events.RequestStarted, events.Started{Attempt: attempt}, meta)
}

func progress(pct float64, msg string) events.Event {
	return events.MustNew(events.RequestProgressed, events.Progress{Percentage: pct, Message: msg}, meta)
}

// bigProgress is a progress event whose data is about size bytes.
func bigProgress(pct float64, size int) events.Event {
	return events.MustNew(events.RequestProgressed, events.Progress{Percentage: pct, Message: strings.Repeat("x", size)}, meta)
}

func newStreamName() string { return events.RequestStream(events.NewID()) }

// client is a DynamoDB client for moto, with extra middleware. Its
// requests are serialised (testenv.Serial): moto does not isolate
// concurrent requests, and these tests race conditional writes.
func client(t testing.TB, apiOptions ...func(*middleware.Stack) error) *dynamodb.Client {
	return dynamodb.NewFromConfig(testenv.Serial(testenv.AWSConfig(t)), func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, apiOptions...)
	})
}

// newTable creates a uniquely named events table, dropped after the test.
func newTable(t testing.TB) string {
	t.Helper()
	c := client(t)
	name := testenv.UniqueName(t, "events")
	if err := ddbstore.CreateTable(context.Background(), c, name); err != nil {
		t.Fatalf("create table: %v", err)
	}
	t.Cleanup(func() {
		if _, err := c.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
			t.Errorf("delete table %s: %v", name, err)
		}
	})
	return name
}

// newStore is a Store on a fresh table; the client carries apiOptions.
func newStore(t testing.TB, apiOptions ...func(*middleware.Stack) error) *ddbstore.Store {
	t.Helper()
	return ddbstore.New(client(t, apiOptions...), newTable(t))
}

// tamper overwrites the data of one stored event behind the store's back.
func tamper(t *testing.T, s events.Store, stream string, version int64, data []byte) {
	t.Helper()
	_, err := client(t).UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName: aws.String(s.(*ddbstore.Store).Table()),
		Key: map[string]types.AttributeValue{
			ddbstore.AttrStream:  &types.AttributeValueMemberS{Value: stream},
			ddbstore.AttrVersion: &types.AttributeValueMemberN{Value: fmt.Sprint(version)},
		},
		UpdateExpression:          aws.String("SET #d = :d"),
		ConditionExpression:       aws.String("attribute_exists(#d)"),
		ExpressionAttributeNames:  map[string]string{"#d": ddbstore.AttrData},
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": &types.AttributeValueMemberS{Value: string(data)}},
	})
	if err != nil {
		t.Fatalf("tamper %s@%d: %v", stream, version, err)
	}
}

func loadAll(t testing.TB, s events.Store, stream string) []events.Event {
	t.Helper()
	evs, err := events.LoadAll(context.Background(), s, stream, 1)
	if err != nil {
		t.Fatalf("load %s: %v", stream, err)
	}
	return evs
}

// calls counts the requests the client sent, by operation name.
type calls struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *calls) get(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[op]
}

func (c *calls) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.n {
		n += v
	}
	return n
}

// countCalls is middleware that counts every operation call.
func countCalls(c *calls) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("countCalls",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				c.mu.Lock()
				if c.n == nil {
					c.n = map[string]int{}
				}
				c.n[middleware.GetOperationName(ctx)]++
				c.mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	}
}

// fault is what an injected failure looks like on the wire.
type fault struct {
	status  int
	errType string // the __type DynamoDB sends, e.g. "ThrottlingException"
	// afterSend: the request reaches moto and is applied, then its response
	// is replaced (an ambiguous failure, like a timeout after the write).
	afterSend bool
}

var (
	throttling = fault{status: 400, errType: "ThrottlingException"}
	overLimit  = fault{status: 400, errType: "ProvisionedThroughputExceededException"}
	lostReply  = fault{status: 500, errType: "InternalServerError", afterSend: true}
)

// injector answers the first n calls of one operation with a fault, as a
// Deserialize-step middleware next to the transport: the SDK's real
// deserializer turns the faked HTTP response into the typed API error, so
// the Store sees exactly what a throttled DynamoDB would send.
type injector struct {
	op    string
	f     fault
	mu    sync.Mutex
	left  int
	calls int // requests of op that reached the injector
}

func inject(op string, n int, f fault) *injector { return &injector{op: op, f: f, left: n} }

func (in *injector) calledTimes() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.calls
}

func (in *injector) apiOption(stack *middleware.Stack) error {
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("injectFault",
		func(ctx context.Context, req middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			if middleware.GetOperationName(ctx) != in.op {
				return next.HandleDeserialize(ctx, req)
			}
			in.mu.Lock()
			in.calls++
			hit := in.left > 0
			if hit {
				in.left--
			}
			in.mu.Unlock()
			if !hit {
				return next.HandleDeserialize(ctx, req)
			}
			var md middleware.Metadata
			if in.f.afterSend {
				out, m, err := next.HandleDeserialize(ctx, req)
				if err != nil {
					return out, m, err
				}
				if raw, ok := out.RawResponse.(*smithyhttp.Response); ok {
					io.Copy(io.Discard, raw.Body)
					raw.Body.Close()
				}
				md = m
			}
			body := fmt.Sprintf(`{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":"injected by the test"}`, in.f.errType)
			resp := &http.Response{
				StatusCode:    in.f.status,
				Header:        http.Header{"Content-Type": {"application/x-amz-json-1.0"}, "X-Amzn-Requestid": {"injected"}},
				Body:          io.NopCloser(strings.NewReader(body)),
				ContentLength: int64(len(body)),
			}
			return middleware.DeserializeOutput{RawResponse: &smithyhttp.Response{Response: resp}}, md, nil
		}), middleware.After)
}
