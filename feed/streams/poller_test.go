package streams_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/streamer/streamer/feed/streams"
	"github.com/streamer/streamer/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// streamTable creates a table with a NEW_IMAGE stream and returns its
// client and stream ARN.
func streamTable(t *testing.T) (*dynamodb.Client, string, string) {
	t.Helper()
	ctx := context.Background()
	db := dynamodb.NewFromConfig(testenv.AWSConfig(t))
	name := testenv.UniqueName(t, "poll")
	out, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String("stream"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("version"), AttributeType: ddbtypes.ScalarAttributeTypeN},
		},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String("stream"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("version"), KeyType: ddbtypes.KeyTypeRange},
		},
		BillingMode:         ddbtypes.BillingModePayPerRequest,
		StreamSpecification: &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeNewImage},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)}) })
	return db, name, aws.ToString(out.TableDescription.LatestStreamArn)
}

func put(t *testing.T, db *dynamodb.Client, table, stream string, version int) {
	t.Helper()
	_, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]ddbtypes.AttributeValue{
		"stream":  &ddbtypes.AttributeValueMemberS{Value: stream},
		"version": &ddbtypes.AttributeValueMemberN{Value: strconv.Itoa(version)},
		"meta":    &ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{"actor": &ddbtypes.AttributeValueMemberS{Value: "u1"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
}

// recorder is a Lambda stream handler that records what it was given and
// can fail a chosen record a number of times.
type recorder struct {
	mu        sync.Mutex
	seen      map[string]int // stream@version → deliveries
	order     map[string][]int
	failKey   string
	failTimes int
	raw       []awsevents.DynamoDBEvent
}

func newRecorder() *recorder { return &recorder{seen: map[string]int{}, order: map[string][]int{}} }

func (r *recorder) handle(_ context.Context, ev awsevents.DynamoDBEvent) (awsevents.DynamoDBEventResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.raw = append(r.raw, ev)
	for _, rec := range ev.Records {
		s := rec.Change.NewImage["stream"].String()
		v, _ := strconv.Atoi(rec.Change.NewImage["version"].Number())
		key := fmt.Sprintf("%s@%d", s, v)
		if key == r.failKey && r.failTimes != 0 {
			r.failTimes--
			return awsevents.DynamoDBEventResponse{BatchItemFailures: []awsevents.DynamoDBBatchItemFailure{{ItemIdentifier: rec.Change.SequenceNumber}}}, nil
		}
		r.seen[key]++
		r.order[s] = append(r.order[s], v)
	}
	return awsevents.DynamoDBEventResponse{}, nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

type failures struct {
	mu  sync.Mutex
	got []streams.FailedBatch
}

func (f *failures) put(_ context.Context, fb streams.FailedBatch) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, fb)
	return nil
}

func runPoller(t *testing.T, api streams.API, arn string, h func(context.Context, awsevents.DynamoDBEvent) (awsevents.DynamoDBEventResponse, error), f *failures, until func() bool) {
	t.Helper()
	p, err := streams.New(api, h, streams.Config{StreamARN: arn, Region: "us-east-1", BatchSize: 5, MaxRetries: 2,
		PollInterval: 10 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, OnFailure: f.put}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for !until() {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("poller did not get there; Run: %v", <-done)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
}

func TestPollerDeliversInOrderWithLambdaShape(t *testing.T) {
	db, table, arn := streamTable(t)
	for v := 1; v <= 12; v++ {
		put(t, db, table, "request/a", v)
		put(t, db, table, "request/b", v)
	}
	rec := newRecorder()
	api := dynamodbstreams.NewFromConfig(testenv.AWSConfig(t))
	runPoller(t, api, arn, rec.handle, &failures{}, func() bool { return rec.count() == 24 })
	for _, s := range []string{"request/a", "request/b"} {
		for i, v := range rec.order[s] {
			if v != i+1 {
				t.Fatalf("%s delivered out of order: %v", s, rec.order[s])
			}
		}
	}
	// The payload is the one Lambda sends: check the JSON shape.
	b, err := json.Marshal(rec.raw[0])
	if err != nil {
		t.Fatal(err)
	}
	var shape struct {
		Records []struct {
			EventName      string `json:"eventName"`
			EventSource    string `json:"eventSource"`
			EventSourceARN string `json:"eventSourceARN"`
			AWSRegion      string `json:"awsRegion"`
			DynamoDB       struct {
				Keys           map[string]map[string]any `json:"Keys"`
				NewImage       map[string]map[string]any `json:"NewImage"`
				SequenceNumber string                    `json:"SequenceNumber"`
				StreamViewType string                    `json:"StreamViewType"`
			} `json:"dynamodb"`
		} `json:"Records"`
	}
	if err := json.Unmarshal(b, &shape); err != nil {
		t.Fatal(err)
	}
	r0 := shape.Records[0]
	if r0.EventName != "INSERT" || r0.EventSource != "aws:dynamodb" || r0.EventSourceARN != arn || r0.AWSRegion == "" ||
		r0.DynamoDB.SequenceNumber == "" || r0.DynamoDB.StreamViewType != "NEW_IMAGE" {
		t.Fatalf("record envelope not Lambda's: %s", b)
	}
	if _, ok := r0.DynamoDB.NewImage["stream"]["S"]; !ok {
		t.Fatalf("NewImage attributes not in DynamoDB JSON: %s", b)
	}
	if _, ok := r0.DynamoDB.NewImage["meta"]["M"]; !ok {
		t.Fatalf("map attribute not in DynamoDB JSON: %s", b)
	}
	if _, ok := r0.DynamoDB.Keys["version"]["N"]; !ok {
		t.Fatalf("Keys not in DynamoDB JSON: %s", b)
	}
}

func TestPollerRetriesFromTheFailedRecord(t *testing.T) {
	db, table, arn := streamTable(t)
	for v := 1; v <= 8; v++ {
		put(t, db, table, "request/a", v)
	}
	rec := newRecorder()
	rec.failKey, rec.failTimes = "request/a@3", 2 // fails twice, MaxRetries 2 → third try succeeds
	f := &failures{}
	api := dynamodbstreams.NewFromConfig(testenv.AWSConfig(t))
	runPoller(t, api, arn, rec.handle, f, func() bool { return rec.count() == 8 })
	if want := []int{1, 2, 3, 4, 5, 6, 7, 8}; fmt.Sprint(rec.order["request/a"]) != fmt.Sprint(want) {
		t.Fatalf("order %v, want %v (records before the failure not re-delivered, none skipped)", rec.order["request/a"], want)
	}
	if len(f.got) != 0 {
		t.Fatalf("failure destination got %d batches", len(f.got))
	}
}

func TestPollerSendsExhaustedBatchToFailureDestination(t *testing.T) {
	db, table, arn := streamTable(t)
	for v := 1; v <= 4; v++ {
		put(t, db, table, "request/p", v)
	}
	rec := newRecorder()
	rec.failKey, rec.failTimes = "request/p@2", -1 // always
	f := &failures{}
	api := dynamodbstreams.NewFromConfig(testenv.AWSConfig(t))
	runPoller(t, api, arn, rec.handle, f, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.got) == 1
	})
	fb := f.got[0]
	if fb.Attempts != 3 || len(fb.Event.Records) != 3 || fb.Event.Records[0].Change.NewImage["version"].Number() != "2" {
		t.Fatalf("failed batch = %d attempts, %d records from version %s; want 3 attempts, versions 2..4",
			fb.Attempts, len(fb.Event.Records), fb.Event.Records[0].Change.NewImage["version"].Number())
	}
	if rec.seen["request/p@1"] != 1 {
		t.Fatal("record before the failure was not delivered exactly once")
	}
}

// expireOnce makes the Nth GetRecords call fail with ExpiredIteratorException.
type expireOnce struct {
	mu    sync.Mutex
	calls int
	at    int
}

func (e *expireOnce) wrap(o *dynamodbstreams.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("expire", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if _, ok := in.Parameters.(*dynamodbstreams.GetRecordsInput); ok {
				e.mu.Lock()
				e.calls++
				hit := e.calls == e.at
				e.mu.Unlock()
				if hit {
					return middleware.InitializeOutput{}, middleware.Metadata{}, &types.ExpiredIteratorException{Message: aws.String("Iterator expired (injected)")}
				}
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
	})
}

func TestPollerRecoversFromExpiredIterator(t *testing.T) {
	db, table, arn := streamTable(t)
	for v := 1; v <= 15; v++ {
		put(t, db, table, "request/x", v)
	}
	rec := newRecorder()
	exp := &expireOnce{at: 2}
	api := dynamodbstreams.NewFromConfig(testenv.AWSConfig(t), exp.wrap)
	runPoller(t, api, arn, rec.handle, &failures{}, func() bool { return rec.count() == 15 })
	if exp.calls < 2 {
		t.Fatal("the expiry was never injected")
	}
	for i, v := range rec.order["request/x"] {
		if v != i+1 {
			t.Fatalf("after an expired iterator: order %v (lost, skipped or duplicated)", rec.order["request/x"])
		}
	}
}
