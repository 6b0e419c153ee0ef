package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamer/streamer/events"
	ddbevents "github.com/streamer/streamer/events/dynamodb"
	evsqlite "github.com/streamer/streamer/events/sqlite"
	"github.com/streamer/streamer/httpapi"
	"github.com/streamer/streamer/internal/testenv"
)

// auditHistory appends a four-event request to s, one event at a time, and
// returns the stored events.
func auditHistory(t *testing.T, s events.Store, id string) []events.Event {
	t.Helper()
	m := events.Meta{Actor: "alice", Tenant: "acme"}
	sys := events.Meta{Actor: "system:processor", Tenant: "acme"}
	var out []events.Event
	for _, e := range []events.Event{
		events.MustNew(events.RequestSubmitted, events.Submitted{Action: "generate_report", Owner: "alice", Tenant: "acme"}, m),
		events.MustNew(events.RequestStarted, events.Started{Attempt: 1, Worker: "worker-3"}, sys),
		events.MustNew(events.RequestProgressed, events.Progress{Percentage: 42, Message: "generating rows"}, sys),
		events.MustNew(events.RequestFailed, events.Failed{Code: "handler_error", Message: "upstream timeout"}, sys),
	} {
		stored, err := s.Append(context.Background(), events.RequestStream(id), int64(len(out)), e)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, stored...)
		time.Sleep(3 * time.Millisecond) // distinct times for --as-of
	}
	return out
}

func runAuditArgs(t *testing.T, e map[string]string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := runAudit(context.Background(), args, &out, env(e))
	return out.String(), err
}

func TestAuditLocal(t *testing.T) {
	dir := t.TempDir()
	s, err := evsqlite.Open(filepath.Join(dir, "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs := auditHistory(t, s, "r-1")

	out, err := runAuditArgs(t, nil, "--data", dir, "r-1")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 7 || lines[0] != "request r-1" || !strings.HasPrefix(lines[1], "VERSION  TIME") {
		t.Fatalf("timeline:\n%s", out)
	}
	for i, want := range []string{
		"alice             submitted  submitted generate_report by alice",
		"system:processor  started    started (attempt 1, worker-3)",
		"system:processor  progress   42% generating rows",
		"system:processor  failed     failed: handler_error upstream timeout",
	} {
		row := lines[2+i]
		if !strings.HasPrefix(row, fmt.Sprintf("%d        %s  ", i+1, evs[i].Time.UTC().Format("2006-01-02T15:04:05.000Z"))) || !strings.HasSuffix(row, want) {
			t.Errorf("row %d = %q, want …%q", i+1, row, want)
		}
	}
	if lines[6] != "state: failed (handler_error: upstream timeout) at version 4" {
		t.Errorf("state line %q", lines[6])
	}

	// Flags after the ID; as of version 3's time.
	out, err = runAuditArgs(t, map[string]string{"STREAMER_DATA_DIR": dir}, "r-1", "--as-of", evs[2].Time.Format(time.RFC3339Nano))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "as of ") || strings.Contains(out, "failed:") || !strings.HasSuffix(out, "state: running 42% at version 3\n") {
		t.Fatalf("as of version 3:\n%s", out)
	}

	out, err = runAuditArgs(t, nil, "--data", dir, "--json", "r-1")
	if err != nil {
		t.Fatal(err)
	}
	var page httpapi.HistoryPage
	if err := json.Unmarshal([]byte(out), &page); err != nil || page.RequestID != "r-1" || len(page.Events) != 4 ||
		page.Events[2].Summary != "42% generating rows" || page.Events[3].Hash != evs[3].Hash {
		t.Fatalf("--json: %v\n%s", err, out)
	}

	if out, err = runAuditArgs(t, nil, "--data", dir, "--verify", "r-1"); err != nil || out != "chain ok (4 events)\n" {
		t.Fatalf("--verify: %q %v", out, err)
	}

	// Alter version 3 behind the store's back.
	if _, err := s.DB().Exec(`UPDATE events SET data = ? WHERE stream = ? AND version = 3`, []byte(`{"percentage":43}`), events.RequestStream("r-1")); err != nil {
		t.Fatal(err)
	}
	out, err = runAuditArgs(t, nil, "--data", dir, "--verify", "r-1")
	if !errors.Is(err, events.ErrChainBroken) || out != "chain BROKEN at version 3: hash does not match the event's content\n" {
		t.Fatalf("--verify of a tampered log: %q %v", out, err)
	}
	out, err = runAuditArgs(t, nil, "--data", dir, "--verify", "--json", "r-1")
	var res httpapi.VerifyResult
	if err == nil || json.Unmarshal([]byte(out), &res) != nil || res.OK || res.BrokenAt != 3 || res.Version != 4 {
		t.Fatalf("--verify --json of a tampered log: %+v %v\n%s", res, err, out)
	}
}

func TestAuditErrors(t *testing.T) {
	dir := t.TempDir()
	s, err := evsqlite.Open(filepath.Join(dir, "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs := auditHistory(t, s, "r-1")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--data", dir}, "usage: streamer audit"},
		{[]string{"--data", dir, "r-1", "r-2"}, "usage: streamer audit"},
		{[]string{"--data", dir, "--frobnicate", "r-1"}, "flag provided but not defined"},
		{[]string{"--data", dir, "nope"}, "request nope not found"},
		{[]string{"--data", dir, "a/b"}, "invalid request id"},
		{[]string{"--data", filepath.Join(dir, "missing"), "r-1"}, "no event store at"},
		{[]string{"--data", dir, "--as-of", "yesterday", "r-1"}, "not an RFC 3339 time"},
		{[]string{"--data", dir, "--as-of", evs[0].Time.Add(-time.Second).Format(time.RFC3339Nano), "r-1"}, "had not been submitted"},
	} {
		if _, err := runAuditArgs(t, nil, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error containing %q", c.args, err, c.want)
		}
	}
}

// TestAuditAWSEndpoint reads the timeline from DynamoDB (moto), then
// alters one item directly and expects --verify to name its version.
func TestAuditAWSEndpoint(t *testing.T) {
	e, evt, _ := awsEnv(t)
	endpoint := testenv.Endpoint(t)
	client := dynamodb.NewFromConfig(testenv.Serial(testenv.AWSConfig(t)))
	if err := ddbevents.CreateTable(context.Background(), client, evt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(evt)})
	})
	auditHistory(t, ddbevents.New(client, evt), "r-aws")

	out, err := runAuditArgs(t, e, "--aws-endpoint", endpoint, "r-aws")
	if err != nil || !strings.Contains(out, "42% generating rows") || !strings.HasSuffix(out, "state: failed (handler_error: upstream timeout) at version 4\n") {
		t.Fatalf("timeline from DynamoDB: %v\n%s", err, out)
	}
	if out, err := runAuditArgs(t, e, "--aws-endpoint", endpoint, "--events-table", evt, "--verify", "r-aws"); err != nil || out != "chain ok (4 events)\n" {
		t.Fatalf("--verify: %q %v", out, err)
	}
	_, err = client.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
		TableName: aws.String(evt),
		Key: map[string]types.AttributeValue{
			ddbevents.AttrStream:  &types.AttributeValueMemberS{Value: events.RequestStream("r-aws")},
			ddbevents.AttrVersion: &types.AttributeValueMemberN{Value: "2"},
		},
		UpdateExpression:          aws.String("SET #d = :d"),
		ExpressionAttributeNames:  map[string]string{"#d": ddbevents.AttrData},
		ExpressionAttributeValues: map[string]types.AttributeValue{":d": &types.AttributeValueMemberS{Value: `{"attempt":1,"worker":"evil"}`}},
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err = runAuditArgs(t, e, "--aws-endpoint", endpoint, "--verify", "r-aws")
	if !errors.Is(err, events.ErrChainBroken) || out != "chain BROKEN at version 2: hash does not match the event's content\n" {
		t.Fatalf("--verify of a tampered item: %q %v", out, err)
	}
	// The timeline shows what is stored now.
	if out, _ := runAuditArgs(t, e, "--aws-endpoint", endpoint, "r-aws"); !strings.Contains(out, "started (attempt 1, evil)") {
		t.Fatalf("timeline after tampering:\n%s", out)
	}
}
