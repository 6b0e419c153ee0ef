package pattern_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/streamer/streamer/bus/pattern"
	"github.com/streamer/streamer/internal/testenv"
)

// TestMatchTableAgainstMoto runs every case of the table through moto's
// EventBridge: each case gets its own bus with one rule (the case's
// pattern) whose target is a queue shared by all cases; the case's event is
// put on its bus; the rule matched when the event's id arrives in the
// queue. Our verdict must equal moto's, except for the cases marked as
// known moto divergences, where moto must give the opposite verdict (so a
// fixed moto shows up here).
func TestMatchTableAgainstMoto(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.AWSConfig(t)
	eb := eventbridge.NewFromConfig(cfg)
	sq := sqs.NewFromConfig(cfg)
	queueURL, queueARN := newQueue(t, ctx, sq)
	when := mustTime(t, testTime)

	caseOf := map[string]int{} // id moto gave the event → case index
	for i, tc := range matchCases {
		bus := testenv.UniqueName(t, fmt.Sprintf("case%d", i))
		ruleToQueue(t, ctx, eb, bus, tc.pattern, queueARN)
		ev := testEvents[tc.event]
		out, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
			EventBusName: aws.String(bus), Source: aws.String(ev.source), DetailType: aws.String(ev.detailType),
			Detail: aws.String(ev.detail), Resources: ev.resources, Time: aws.Time(when),
		}}})
		if err != nil || out.FailedEntryCount != 0 {
			t.Fatalf("case %q: put event: %v (%d failed)", tc.name, err, out.FailedEntryCount)
		}
		caseOf[aws.ToString(out.Entries[0].EventId)] = i
	}

	delivered := map[int]bool{}
	for _, body := range drain(t, ctx, sq, queueURL) {
		var msg struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal([]byte(body), &msg); err != nil {
			t.Fatalf("queue body %q: %v", body, err)
		}
		i, ok := caseOf[msg.ID]
		if !ok {
			t.Fatalf("queue: unknown event id %q", msg.ID)
		}
		delivered[i] = true
	}

	divergences := 0
	for i, tc := range matchCases {
		t.Run(tc.name, func(t *testing.T) {
			ours, err := pattern.MustCompile(tc.pattern).Match(testEvents[tc.event].eventJSON(eventID(tc.event)))
			if err != nil {
				t.Fatal(err)
			}
			moto := delivered[i]
			if ours != tc.want {
				t.Errorf("ours: %v, want %v", ours, tc.want)
			}
			switch {
			case tc.motoDiverges == "" && moto != ours:
				t.Errorf("pattern %s on %s: moto %v, ours %v", tc.pattern, tc.event, moto, ours)
			case tc.motoDiverges != "" && moto == ours:
				t.Errorf("known divergence (%s) no longer holds: moto now agrees (%v); drop the mark", tc.motoDiverges, moto)
			case tc.motoDiverges != "":
				divergences++
			}
		})
	}
	t.Logf("%d cases, %d known moto divergences", len(matchCases), divergences)
}

// newQueue creates an SQS queue, deleted after the test, and returns its
// URL and ARN.
func newQueue(t *testing.T, ctx context.Context, sq *sqs.Client) (url, arn string) {
	t.Helper()
	q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(testenv.UniqueName(t, "q"))})
	if err != nil {
		t.Fatalf("create queue: %v", err)
	}
	t.Cleanup(func() { sq.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: q.QueueUrl}) })
	attrs, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		t.Fatalf("queue arn: %v", err)
	}
	return aws.ToString(q.QueueUrl), attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
}

// ruleToQueue creates bus with one rule, pattern, whose target is the
// queue; all are deleted after the test.
//
// The target has an input transformer that passes the whole event on
// (<aws.events.event.json>) with a one-entry paths map: moto parses every
// JSONPath of a target's paths map for each delivery (about 0.1 s each),
// and without a transformer it parses eight.
func ruleToQueue(t *testing.T, ctx context.Context, eb *eventbridge.Client, bus, pat, queueARN string) {
	t.Helper()
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(bus)}); err != nil {
		t.Fatalf("create bus: %v", err)
	}
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{
		Name: aws.String("r"), EventBusName: aws.String(bus), EventPattern: aws.String(pat),
	}); err != nil {
		t.Fatalf("put rule %s: %v", pat, err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{
		Rule: aws.String("r"), EventBusName: aws.String(bus),
		Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(queueARN), InputTransformer: &ebtypes.InputTransformer{
			InputPathsMap: map[string]string{"id": "$.id"}, InputTemplate: aws.String("<aws.events.event.json>"),
		}}},
	}); err != nil {
		t.Fatalf("put target: %v", err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String("r"), EventBusName: aws.String(bus), Ids: []string{"q"}})
		eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String("r"), EventBusName: aws.String(bus)})
		eb.DeleteEventBus(ctx, &eventbridge.DeleteEventBusInput{Name: aws.String(bus)})
	})
}

// drain receives every message in the queue. moto delivers to SQS inside
// PutEvents, so an empty receive means the queue is drained.
func drain(t *testing.T, ctx context.Context, sq *sqs.Client, url string) []string {
	t.Helper()
	var bodies []string
	for {
		out, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		if len(out.Messages) == 0 {
			return bodies
		}
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
		}
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}
