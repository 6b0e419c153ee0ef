package awsbus

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awseventbridge "github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/streamer/streamer/bus"
	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/internal/awsrest"
	"github.com/streamer/streamer/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestNew(t *testing.T) {
	creds := credentials.NewStaticCredentialsProvider("a", "b", "")
	cfg := aws.Config{Region: "us-east-1", Credentials: creds}
	if p, err := New(cfg, "", "", nil); p != nil || err != nil {
		t.Fatalf("no bus: %v, %v; want nil, nil", p, err)
	}
	if p, err := New(cfg, "streamer", strings.Repeat("s", 257), nil); err == nil || p != nil {
		t.Fatalf("source over 256 characters: %v, %v; want an error and no publisher", p, err)
	}
	if p, err := New(aws.Config{}, "streamer", "", nil); err == nil || p != nil || !strings.Contains(err.Error(), "region") || !strings.Contains(err.Error(), "credentials") {
		t.Fatalf("no region, no credentials: %v, %v; want an error naming both", p, err)
	}
	p, err := New(cfg, "streamer", "test", nil)
	if err != nil || p == nil {
		t.Fatalf("bus: %v, %v; want a publisher", p, err)
	}
}

// TestPublishesToTheBus: the publisher New wires puts events on the named
// bus with the configured source (moto: a rule on that bus and source
// delivers them to a queue), and a bus that does not exist is an error.
func TestPublishesToTheBus(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.AWSConfig(t)
	eb := awseventbridge.NewFromConfig(cfg)
	sq := sqs.NewFromConfig(cfg)
	busName := testenv.UniqueName(t, "bus")
	q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(testenv.UniqueName(t, "q"))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: q.QueueUrl}) })
	attrs, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eb.CreateEventBus(ctx, &awseventbridge.CreateEventBusInput{Name: aws.String(busName)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		eb.RemoveTargets(ctx, &awseventbridge.RemoveTargetsInput{Rule: aws.String("r"), EventBusName: aws.String(busName), Ids: []string{"q"}})
		eb.DeleteRule(ctx, &awseventbridge.DeleteRuleInput{Name: aws.String("r"), EventBusName: aws.String(busName)})
		eb.DeleteEventBus(ctx, &awseventbridge.DeleteEventBusInput{Name: aws.String(busName)})
	})
	if _, err := eb.PutRule(ctx, &awseventbridge.PutRuleInput{Name: aws.String("r"), EventBusName: aws.String(busName), EventPattern: aws.String(`{"source":["awsbus-test"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &awseventbridge.PutTargetsInput{Rule: aws.String("r"), EventBusName: aws.String(busName), Targets: []ebtypes.Target{{
		Id: aws.String("q"), Arn: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]),
	}}}); err != nil {
		t.Fatal(err)
	}

	e := events.MustNew(events.RequestSubmitted, events.Submitted{Action: "echo", Owner: "alice", Tenant: "acme"}, events.Meta{Actor: "alice", Tenant: "acme"})
	e.ID, e.StreamID, e.Version = events.NewID(), events.RequestStream(events.NewID()), 1
	pub, err := New(cfg, busName, "awsbus-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, []events.Event{e}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	res, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10})
	if err != nil || len(res.Messages) != 1 {
		t.Fatalf("receive: %v, %d messages; want the one event", err, len(res.Messages))
	}
	var got awsevents.EventBridgeEvent
	if err := json.Unmarshal([]byte(aws.ToString(res.Messages[0].Body)), &got); err != nil {
		t.Fatal(err)
	}
	var detail struct{ ID, Stream string }
	if err := json.Unmarshal(got.Detail, &detail); err != nil || got.Source != "awsbus-test" || got.DetailType != events.RequestSubmitted || detail.ID != e.ID {
		t.Fatalf("delivered %s %s %s (%v), want the event %s", got.Source, got.DetailType, got.Detail, err, e.ID)
	}

	// A bus that does not exist: moto answers the call with a 400
	// ResourceNotFoundException, a permanent error.
	pub, err = New(cfg, testenv.UniqueName(t, "nobus"), "awsbus-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	err = pub.Publish(ctx, []events.Event{e})
	var api *awsrest.APIError
	if !errors.Is(err, bus.ErrNotPublished) || !errors.As(err, &api) || api.Code != "ResourceNotFoundException" {
		t.Fatalf("publish to a missing bus: %v, want bus.ErrNotPublished with the ResourceNotFoundException", err)
	}
}
