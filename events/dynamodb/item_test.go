package dynamodb_test

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamer/streamer/events"
	ddbstore "github.com/streamer/streamer/events/dynamodb"
)

// prepared returns stamped events of one stream and the states after them.
func prepared(t testing.TB, evs ...events.Event) ([]events.Event, []events.State) {
	t.Helper()
	out, states, err := events.Prepare(events.RequestStream("codec-"+events.NewID()), events.Head{}, evs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return out, states
}

func TestItemRoundTrip(t *testing.T) {
	full := events.Meta{Actor: "a", Tenant: "t", CorrelationID: "c", CausationID: "k", TraceID: "tr", Source: "src"}
	sub := events.MustNew(events.RequestSubmitted, events.Submitted{Action: "echo", Owner: "u1", Tenant: "t1"}, full)
	start := events.MustNew(events.RequestStarted, events.Started{Attempt: 1}, events.Meta{})
	prog := events.Event{Type: events.RequestProgressed, SchemaVersion: 1, Data: []byte("{ \"percent\" : 10.50,\n\"status\":\"old <shape> ✓\" }"), Meta: events.Meta{Actor: "u1"}}
	out, states := prepared(t, sub, start, prog)
	for i, e := range out {
		item := ddbstore.MarshalItem(e, states[i])
		got, st, err := ddbstore.UnmarshalItem(item)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, e) || st != states[i] {
			t.Errorf("event %d round trip:\n got %+v %+v\nwant %+v %+v", i, got, st, e, states[i])
		}
		if d := item[ddbstore.AttrData].(*types.AttributeValueMemberS).Value; d != string(e.Data) {
			t.Errorf("event %d: data %q is not the event's bytes %q", i, d, e.Data)
		}
		_, hasPrev := item[ddbstore.AttrPrevHash]
		if hasPrev != (e.Version > 1) {
			t.Errorf("event %d: prevHash present = %v", i, hasPrev)
		}
		_, hasMeta := item[ddbstore.AttrMeta]
		if hasMeta != (e.Meta != events.Meta{}) {
			t.Errorf("event %d: meta present = %v for %+v", i, hasMeta, e.Meta)
		}
	}
	if err := events.Verify(out); err != nil {
		t.Fatal(err)
	}
	if m := ddbstore.MarshalItem(out[0], states[0])[ddbstore.AttrMeta].(*types.AttributeValueMemberM).Value; len(m) != 6 {
		t.Errorf("full meta stored as %d attributes, want 6", len(m))
	}
}

func TestUnmarshalItemRejectsMalformedItems(t *testing.T) {
	out, states := prepared(t, events.MustNew(events.RequestSubmitted, events.Submitted{Action: "echo", Owner: "u1"}, events.Meta{Actor: "u1"}))
	cases := []struct {
		name   string
		change func(map[string]types.AttributeValue)
		want   string
	}{
		{"missing id", func(m map[string]types.AttributeValue) { delete(m, ddbstore.AttrID) }, "id is missing"},
		{"missing data", func(m map[string]types.AttributeValue) { delete(m, ddbstore.AttrData) }, "data is missing"},
		{"missing state", func(m map[string]types.AttributeValue) { delete(m, ddbstore.AttrState) }, "state is missing"},
		{"version not a number", func(m map[string]types.AttributeValue) {
			m[ddbstore.AttrVersion] = &types.AttributeValueMemberS{Value: "1"}
		}, "version is S, want N"},
		{"version not an integer", func(m map[string]types.AttributeValue) {
			m[ddbstore.AttrVersion] = &types.AttributeValueMemberN{Value: "1.5"}
		}, "not an integer"},
		{"data as a map", func(m map[string]types.AttributeValue) { m[ddbstore.AttrData] = &types.AttributeValueMemberM{} }, "data is M, want S"},
		{"meta as a string", func(m map[string]types.AttributeValue) {
			m[ddbstore.AttrMeta] = &types.AttributeValueMemberS{Value: "{}"}
		}, "meta is S, want M"},
		{"meta field as a number", func(m map[string]types.AttributeValue) {
			m[ddbstore.AttrMeta] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"actor": &types.AttributeValueMemberN{Value: "1"}}}
		}, "meta.actor is N"},
		{"bad time", func(m map[string]types.AttributeValue) {
			m[ddbstore.AttrTime] = &types.AttributeValueMemberS{Value: "yesterday"}
		}, "attribute time"},
		{"bad state", func(m map[string]types.AttributeValue) {
			m[ddbstore.AttrState] = &types.AttributeValueMemberS{Value: "{"}
		}, "attribute state"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			item := ddbstore.MarshalItem(out[0], states[0])
			tc.change(item)
			_, _, err := ddbstore.UnmarshalItem(item)
			if !errors.Is(err, events.ErrInvalidEvent) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrInvalidEvent saying %q", err, tc.want)
			}
		})
	}
}

// TestStreamImageFixture decodes a DynamoDB Streams batch in the exact
// JSON shape Lambda delivers and checks every field, and that the two
// events' hash chain verifies (so data came through byte for byte).
func TestStreamImageFixture(t *testing.T) {
	b, err := os.ReadFile("testdata/stream-insert.json")
	if err != nil {
		t.Fatal(err)
	}
	var batch awsevents.DynamoDBEvent
	if err := json.Unmarshal(b, &batch); err != nil {
		t.Fatal(err)
	}
	if len(batch.Records) != 2 {
		t.Fatalf("%d records", len(batch.Records))
	}
	var got []events.Event
	for _, r := range batch.Records {
		e, err := ddbstore.UnmarshalStreamImage(r.Change.NewImage)
		if err != nil {
			t.Fatalf("record %s: %v", r.Change.SequenceNumber, err)
		}
		got = append(got, e)
	}
	want := events.Event{
		ID: "0193a1b2-c3d4-7e5f-8a9b-000000000001", StreamID: "request/0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", Version: 1,
		Type: events.RequestSubmitted, SchemaVersion: 1, Time: time.Date(2026, 11, 28, 3, 4, 5, 123456000, time.UTC),
		Meta: events.Meta{Actor: "user-1", Tenant: "tenant-1", CorrelationID: "corr-1", TraceID: "1-5f84c7a1-abcdef012345678901234567", Source: "router"},
		Data: json.RawMessage(`{"action":"generate_report","owner":"user-1","tenant":"tenant-1","idempotencyKey":"k-1"}`),
		Hash: "bafeb0117c52aa8c4e5957b6ab295b7512adfb1c2af30b7f01c0fd9bd78a575d",
	}
	if !reflect.DeepEqual(got[0], want) {
		t.Errorf("record 1:\n got %+v\nwant %+v", got[0], want)
	}
	if got[1].Version != 2 || got[1].PrevHash != want.Hash || got[1].Meta != (events.Meta{Actor: "system:processor", Source: "processor"}) ||
		string(got[1].Data) != `{"attempt": 1, "worker": "λ-req-7"}` {
		t.Errorf("record 2: %+v", got[1])
	}
	if err := events.Verify(got); err != nil {
		t.Fatalf("fixture chain: %v", err)
	}
	p, err := events.PayloadAs[*events.Started](got[1])
	if err != nil || p.Attempt != 1 || p.Worker != "λ-req-7" {
		t.Fatalf("payload %+v, %v", p, err)
	}
}

// TestStreamImageRoundTrip: an event marshalled as an item, shipped as a
// stream image through Lambda's JSON, decodes to the same event.
func TestStreamImageRoundTrip(t *testing.T) {
	out, states := prepared(t,
		events.MustNew(events.RequestSubmitted, events.Submitted{Action: "echo", Owner: "u1", Tenant: "t1", Payload: json.RawMessage(`{"n":[1,2.50,"x"]}`)}, events.Meta{Actor: "u1", Tenant: "t1"}),
		events.MustNew(events.RequestStarted, events.Started{Attempt: 1}, events.Meta{}),
		events.MustNew(events.RequestProgressed, events.Progress{Percentage: 12.5, Message: "warming up ✓ <&>"}, events.Meta{TraceID: "tr"}),
	)
	for i, e := range out {
		b, err := json.Marshal(toStreamImage(t, ddbstore.MarshalItem(e, states[i])))
		if err != nil {
			t.Fatal(err)
		}
		var image map[string]awsevents.DynamoDBAttributeValue
		if err := json.Unmarshal(b, &image); err != nil {
			t.Fatal(err)
		}
		got, err := ddbstore.UnmarshalStreamImage(image)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, got, e)
		}
	}
}

func TestUnmarshalStreamImageRejectsMalformedImages(t *testing.T) {
	cases := map[string]map[string]awsevents.DynamoDBAttributeValue{
		"empty":              {},
		"version as string":  {"version": awsevents.NewStringAttribute("1")},
		"zero value (bogus)": {"stream": {}},
	}
	for name, image := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ddbstore.UnmarshalStreamImage(image); !errors.Is(err, events.ErrInvalidEvent) {
				t.Fatalf("error %v, want ErrInvalidEvent", err)
			}
		})
	}
}

// FuzzUnmarshalStreamImage: no stream image, however malformed, makes the
// decoder panic, and whatever it accepts survives MarshalItem and
// UnmarshalItem unchanged.
func FuzzUnmarshalStreamImage(f *testing.F) {
	b, err := os.ReadFile("testdata/stream-insert.json")
	if err != nil {
		f.Fatal(err)
	}
	var batch struct {
		Records []struct {
			Dynamodb struct {
				NewImage json.RawMessage
			} `json:"dynamodb"`
		}
	}
	if err := json.Unmarshal(b, &batch); err != nil {
		f.Fatal(err)
	}
	for _, r := range batch.Records {
		f.Add([]byte(r.Dynamodb.NewImage))
	}
	f.Add([]byte(`{"version":{"N":"x"}}`))
	f.Add([]byte(`{"meta":{"L":[{"S":"a"}]}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var image map[string]awsevents.DynamoDBAttributeValue
		if json.Unmarshal(raw, &image) != nil {
			return
		}
		e, err := ddbstore.UnmarshalStreamImage(image)
		if err != nil {
			if !errors.Is(err, events.ErrInvalidEvent) {
				t.Fatalf("error %v is not ErrInvalidEvent", err)
			}
			return
		}
		again, _, err := ddbstore.UnmarshalItem(ddbstore.MarshalItem(e, events.State{}))
		if err != nil {
			t.Fatalf("re-decoding an accepted image: %v", err)
		}
		if !reflect.DeepEqual(again, e) {
			t.Fatalf("round trip changed the event:\n got %+v\nwant %+v", again, e)
		}
	})
}

// toStreamImage converts an SDK item into Lambda's attribute values, the
// way the DynamoDB Streams payload carries it.
func toStreamImage(t testing.TB, item map[string]types.AttributeValue) map[string]awsevents.DynamoDBAttributeValue {
	t.Helper()
	out := make(map[string]awsevents.DynamoDBAttributeValue, len(item))
	for k, v := range item {
		out[k] = toStreamValue(t, v)
	}
	return out
}

func toStreamValue(t testing.TB, av types.AttributeValue) awsevents.DynamoDBAttributeValue {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return awsevents.NewStringAttribute(v.Value)
	case *types.AttributeValueMemberN:
		return awsevents.NewNumberAttribute(v.Value)
	case *types.AttributeValueMemberM:
		return awsevents.NewMapAttribute(toStreamImage(t, v.Value))
	}
	t.Fatalf("attribute type %T not used by event items", av)
	return awsevents.DynamoDBAttributeValue{}
}
