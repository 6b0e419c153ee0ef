package lambda_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"testing"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/streamer/streamer/events"
	ddb "github.com/streamer/streamer/events/dynamodb"
	"github.com/streamer/streamer/feed"
	"github.com/streamer/streamer/feed/lambda"
)

// The fixtures are in the exact JSON shape Lambda delivers for a DynamoDB
// Streams event source mapping; batch.json holds two request streams, one
// MODIFY record (an operator edit), in sequence-number order.

func loadBatch(t *testing.T) awsevents.DynamoDBEvent {
	t.Helper()
	b, err := os.ReadFile("testdata/batch.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev awsevents.DynamoDBEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// assertJSONEq compares got with the fixture file semantically.
func assertJSONEq(t *testing.T, got any, file string) {
	t.Helper()
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(got)
	var g, w any
	if err := json.Unmarshal(gb, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("response %s\nwant %s", gb, bytes.TrimSpace(want))
	}
}

type consumer struct {
	got  []events.Event
	fail func(evs []events.Event) []feed.Failure
}

func (c *consumer) Name() string { return "test" }
func (c *consumer) Handle(_ context.Context, evs []events.Event) []feed.Failure {
	c.got = append(c.got, evs...)
	if c.fail != nil {
		return c.fail(evs)
	}
	return nil
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func keys(evs []events.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, fmt.Sprintf("%s@%d", e.StreamID, e.Version))
	}
	return out
}

func TestAllRecordsProcessed(t *testing.T) {
	c := &consumer{}
	resp, err := lambda.NewHandler(c, ddb.UnmarshalStreamImage, quiet())(context.Background(), loadBatch(t))
	if err != nil {
		t.Fatal(err)
	}
	assertJSONEq(t, resp, "testdata/response-ok.json")
	want := []string{"request/req-a@1", "request/req-b@1", "request/req-a@2", "request/req-b@2", "request/req-b@3"}
	if got := keys(c.got); !reflect.DeepEqual(got, want) {
		t.Fatalf("consumer got %v, want %v (the MODIFY record skipped, order kept)", got, want)
	}
	// Decoded events are whole: their chain verifies.
	if err := events.Verify(c.got[1:2]); err != nil {
		t.Fatal(err)
	}
	var b []events.Event
	for _, e := range c.got {
		if e.StreamID == "request/req-b" {
			b = append(b, e)
		}
	}
	if err := events.Verify(b); err != nil {
		t.Fatalf("req-b decoded from stream images does not verify: %v", err)
	}
}

func TestPartialFailureNamesFirstFailedRecordOfTheStream(t *testing.T) {
	c := &consumer{fail: func(evs []events.Event) []feed.Failure {
		for _, e := range evs {
			if e.StreamID == "request/req-b" && e.Version == 2 {
				return []feed.Failure{feed.FailStream(e, errors.New("view store down"))}
			}
		}
		return nil
	}}
	resp, err := lambda.NewHandler(c, ddb.UnmarshalStreamImage, quiet())(context.Background(), loadBatch(t))
	if err != nil {
		t.Fatal(err)
	}
	assertJSONEq(t, resp, "testdata/response-partial.json")
}

func TestUndecodableRecordFailsItsStreamOnly(t *testing.T) {
	ev := loadBatch(t)
	// Corrupt req-b@1: its data is no longer a string attribute.
	ev.Records[1].Change.NewImage["data"] = awsevents.NewNumberAttribute("7")
	c := &consumer{}
	resp, err := lambda.NewHandler(c, ddb.UnmarshalStreamImage, quiet())(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != ev.Records[1].Change.SequenceNumber {
		t.Fatalf("failures %+v, want the corrupt record", resp.BatchItemFailures)
	}
	if got := keys(c.got); !reflect.DeepEqual(got, []string{"request/req-a@1", "request/req-a@2"}) {
		t.Fatalf("consumer got %v: later records of the failed stream must wait", got)
	}
}

func TestConsumerNamingAnUnknownEventFailsTheBatch(t *testing.T) {
	c := &consumer{fail: func([]events.Event) []feed.Failure {
		return []feed.Failure{{EventID: "not-in-batch", Stream: "request/x", Version: 1}}
	}}
	_, err := lambda.NewHandler(c, ddb.UnmarshalStreamImage, quiet())(context.Background(), loadBatch(t))
	if err == nil || !strings.Contains(err.Error(), "unknown event") {
		t.Fatalf("err = %v", err)
	}
}
