package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamer/streamer/events"
	ddbevents "github.com/streamer/streamer/events/dynamodb"
	"github.com/streamer/streamer/internal/testenv"
	"github.com/streamer/streamer/projections"
	ddbviews "github.com/streamer/streamer/projections/dynamodb"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func awsEnv(t *testing.T) (map[string]string, string, string) {
	evt, vt := testenv.UniqueName(t, "ev"), testenv.UniqueName(t, "vw")
	return map[string]string{"AWS_REGION": testenv.Region, "AWS_ACCESS_KEY_ID": testenv.AccessKeyID, "AWS_SECRET_ACCESS_KEY": testenv.SecretKey,
		"EVENTS_TABLE": evt, "VIEWS_TABLE": vt}, evt, vt
}

func TestTablesCreateIsIdempotent(t *testing.T) {
	e, evt, vt := awsEnv(t)
	for i := 0; i < 2; i++ {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), []string{"tables", "create", "--endpoint", testenv.Endpoint(t)}, &out, &errOut, env(e)); code != 0 {
			t.Fatalf("run %d: exit %d: %s", i, code, errOut.String())
		}
		if !strings.Contains(out.String(), evt) || !strings.Contains(out.String(), vt) {
			t.Fatalf("output %q", out.String())
		}
	}
	client := dynamodb.NewFromConfig(testenv.AWSConfig(t))
	d, err := client.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: &evt})
	if err != nil || d.Table.StreamSpecification == nil || string(d.Table.StreamSpecification.StreamViewType) != "NEW_IMAGE" {
		t.Fatalf("events table: %v %+v", err, d)
	}
}

// TestDevAgainstAWSEndpoint runs `streamer dev --aws-endpoint` against moto:
// events appended to DynamoDB reach the DynamoDB views through the Streams
// poller and the projector Lambda handler; then `streamer rebuild
// --aws-endpoint` switches to an equal generation.
func TestDevAgainstAWSEndpoint(t *testing.T) {
	e, evt, vt := awsEnv(t)
	endpoint := testenv.Endpoint(t)
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"dev", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--aws-endpoint", endpoint}, pw, io.Discard, env(e))
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	started := false
	for sc.Scan() {
		if strings.Contains(sc.Text(), "health:") {
			started = true
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if !started {
		t.Fatalf("dev did not start; exit %d", <-done)
	}
	client := dynamodb.NewFromConfig(testenv.AWSConfig(t))
	store := ddbevents.New(client, evt)
	m := events.Meta{Actor: "alice", Tenant: "acme"}
	for i := 0; i < 5; i++ {
		_, err := store.Append(context.Background(), events.RequestStream(fmt.Sprintf("aws-%d", i)), 0,
			events.MustNew(events.RequestSubmitted, events.Submitted{Action: "echo", Owner: "alice", Tenant: "acme"}, m),
			events.MustNew(events.RequestStarted, events.Started{Attempt: 1}, m),
			events.MustNew(events.RequestCompleted, events.Completed{Result: json.RawMessage(`{"ok":true}`)}, m))
		if err != nil {
			t.Fatal(err)
		}
	}
	reader := projections.NewReader(ddbviews.New(client, vt))
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := reader.GetRequest(context.Background(), "aws-4")
		if err == nil && v.Status == "completed" && v.Version == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("view not projected through the Streams poller: %+v %v", v, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("dev exited %d", code)
	}

	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"rebuild", "--aws-endpoint", endpoint}, &out, &errOut, env(e)); code != 0 {
		t.Fatalf("rebuild exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "rebuilt generation g2 from 15 events") {
		t.Fatalf("rebuild output:\n%s", out.String())
	}
	for i := 0; i < 5; i++ {
		v, err := reader.GetRequest(context.Background(), fmt.Sprintf("aws-%d", i))
		if err != nil || v.Status != "completed" || v.Version != 3 || v.Owner != "alice" {
			t.Fatalf("after rebuild aws-%d = %+v, %v", i, v, err)
		}
	}
}

// TestRebuildOneViewKindOnAWS runs `streamer rebuild --aws-endpoint --view
// connections` against moto: the connection views are replayed, the
// request views carried over from the active generation.
func TestRebuildOneViewKindOnAWS(t *testing.T) {
	ctx := context.Background()
	e, evt, vt := awsEnv(t)
	endpoint := testenv.Endpoint(t)
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"tables", "create", "--endpoint", endpoint}, &out, &errOut, env(e)); code != 0 {
		t.Fatalf("tables create: exit %d: %s", code, errOut.String())
	}
	client := dynamodb.NewFromConfig(testenv.AWSConfig(t))
	store := ddbevents.New(client, evt)
	gens := ddbviews.New(client, vt)
	m := events.Meta{Actor: "alice", Tenant: "acme"}
	var all []events.Event
	for i := 0; i < 3; i++ {
		evs, err := store.Append(ctx, events.RequestStream(fmt.Sprintf("aws-%d", i)), 0,
			events.MustNew(events.RequestSubmitted, events.Submitted{Action: "echo", Owner: "alice", Tenant: "acme"}, m),
			events.MustNew(events.RequestStarted, events.Started{Attempt: 1}, m),
			events.MustNew(events.RequestCompleted, events.Completed{Result: json.RawMessage(`{"ok":true}`)}, m))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, evs...)
	}
	for i := 0; i < 2; i++ {
		evs, err := store.Append(ctx, events.ConnectionStream(fmt.Sprintf("conn-%d", i)), 0,
			events.MustNew(events.ConnectionOpened, events.Opened{User: "alice", Tenant: "acme", Source: "websocket"}, m),
			events.MustNew(events.ConnectionSubscribed, events.Subscribed{RequestID: "aws-0"}, m))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, evs...)
	}
	// The live projector's work, done here in one batch.
	if failed := projections.NewProjector(store, gens, projections.WithLogger(slog.New(slog.DiscardHandler))).Handle(ctx, all); len(failed) > 0 {
		t.Fatalf("project: %+v", failed)
	}

	out.Reset()
	if code := run(ctx, []string{"rebuild", "--aws-endpoint", endpoint, "--view", "connections"}, &out, &errOut, env(e)); code != 0 {
		t.Fatalf("rebuild exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "rebuilt generation g2 from 13 events (") || !strings.Contains(out.String(), "; connection views only, 3 request views carried over from g1)") {
		t.Fatalf("rebuild output:\n%s", out.String())
	}
	reader := projections.NewReader(gens)
	for i := 0; i < 3; i++ {
		v, err := reader.GetRequest(ctx, fmt.Sprintf("aws-%d", i))
		if err != nil || v.Status != "completed" || v.Version != 3 {
			t.Fatalf("after rebuild aws-%d = %+v, %v", i, v, err)
		}
	}
	subs, err := reader.Subscribers(ctx, "aws-0")
	if err != nil || strings.Join(subs, ",") != "conn-0,conn-1" {
		t.Fatalf("subscribers of aws-0 after rebuild = %q, %v", subs, err)
	}
	if meta, err := gens.Meta(ctx); err != nil || meta.Active != "g2" || meta.Views != "" {
		t.Fatalf("meta after rebuild = %+v, %v", meta, err)
	}
}
