package infra_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	dbstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/streamer/streamer/app"
	"github.com/streamer/streamer/auth"
	"github.com/streamer/streamer/events"
	ddbevents "github.com/streamer/streamer/events/dynamodb"
	"github.com/streamer/streamer/feed/streams"
	"github.com/streamer/streamer/gateway"
	"github.com/streamer/streamer/gateway/gatewaytest"
	"github.com/streamer/streamer/infra"
	"github.com/streamer/streamer/internal/testenv"
)

// The identities of the fixtures under testdata/events.
const (
	smokeUser     = "alice"
	smokeTenant   = "acme"
	smokeIssuer   = "https://issuer.example.com/"
	smokeAudience = "streamer-smoke"
	smokeSource   = "streamer"
	// busRequestID is the request of eventbridge-submitted.json (and of
	// http-get-request.json).
	busRequestID = "7d4b1e0c-2f3a-4c5d-8e6f-a1b2c3d4e5f6"
	// streamRequestID is the request of dynamodb-stream.json.
	streamRequestID = "5e1f6c2a-8d3b-4f7a-9c21-0a1b2c3d4e5f"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestSmoke runs every function's bootstrap (built as for Lambda, for this
// machine's architecture) under aws-lambda-rie, with exactly the
// environment variables the template gives it, against moto, a local
// @connections endpoint with a real WebSocket client, and a moto EventBridge
// bus; each handles a fixture event in the exact shape Lambda delivers, and
// the test checks what it did:
//
//	connect     $connect with a dev-key token → 200, connection.opened; a token of another key → 401
//	router      $default ping and echo → pong and the echo response reach the socket
//	processor   EventBridge request.submitted → the request runs to request.completed
//	projector   a DynamoDB stream batch → the view exists, and the event is on the bus
//	projector   the events table's real stream records (read from moto) → views of all of them
//	fanout      the same records → the owner's socket receives the request's terminal event
//	api         HTTP API v2 GET /requests/{id} with JWT claims → 200 and the completed view
//	disconnect  $disconnect → connection.closed
func TestSmoke(t *testing.T) {
	ctx := context.Background()
	rie := ensureRIE(t)
	bins := newBuilder(t, hostArch()).buildAll(t, sources())
	tpl, err := infra.Load(templatePath)
	if err != nil {
		t.Fatal(err)
	}

	// AWS resources in moto.
	endpoint := testenv.Endpoint(t)
	cfg := testenv.AWSConfig(t)
	db := dynamodb.NewFromConfig(testenv.Serial(cfg))
	eventsTable, viewsTable := testenv.UniqueName(t, "events"), testenv.UniqueName(t, "views")
	if err := app.CreateTables(ctx, db, eventsTable, viewsTable); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, name := range []string{eventsTable, viewsTable} {
			db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		}
	})
	bus, published := busWithQueue(t, cfg)
	store := ddbevents.New(db, eventsTable)
	rt, err := app.NewAWS(ctx, testenv.Serial(cfg), app.AWSConfig{EventsTable: eventsTable, ViewsTable: viewsTable, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}

	// The @connections endpoint and a client on it, and the JWT keys.
	srv := gatewaytest.Start(t, gateway.Config{Logger: quiet}, gatewaytest.Options{})
	client := srv.Dial(t, gatewaytest.DialOptions{})
	key, err := auth.LoadOrCreateDevKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	token := mint(t, key)
	other, err := auth.LoadOrCreateDevKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	placeholders := map[string]string{"CONNECTION_ID": client.ID(), "TOKEN": token}

	values := map[string]string{
		"EVENTS_TABLE":       eventsTable,
		"VIEWS_TABLE":        viewsTable,
		"LOG_LEVEL":          "debug",
		"WEBSOCKET_ENDPOINT": srv.Endpoint,
		"JWT_PUBLIC_KEY":     key.PublicKeyPEM(),
		"JWT_JWKS_URL":       "", // the template takes one of the two keys; the test the PEM
		"JWT_ISSUER":         smokeIssuer,
		"JWT_AUDIENCE":       smokeAudience,
		"EVENT_BUS_NAME":     bus,
		"EVENT_SOURCE":       smokeSource,
	}
	start := func(id string) *lambdaProc {
		t.Helper()
		source := ""
		for _, f := range infra.Functions {
			if f.ID == id {
				source = f.Source
			}
		}
		env := templateEnv(t, tpl, id, values)
		env["AWS_REGION"] = testenv.Region
		env["AWS_ACCESS_KEY_ID"] = testenv.AccessKeyID
		env["AWS_SECRET_ACCESS_KEY"] = testenv.SecretKey
		env["DYNAMODB_ENDPOINT"] = endpoint
		env["AWS_LAMBDA_FUNCTION_NAME"] = id
		env["AWS_LAMBDA_FUNCTION_TIMEOUT"] = "60"
		return startLambda(t, rie, bins[source], id, env)
	}

	t.Run("connect", func(t *testing.T) {
		fn := start("ConnectFunction")
		resp := wsResponse(t, fn.invoke(t, fixtureEvent(t, "connect.json", placeholders)))
		if resp.StatusCode != 200 {
			t.Fatalf("$connect answered %d %s, want 200\n%s", resp.StatusCode, resp.Body, fn.log.String())
		}
		evs := mustLoad(t, store, events.ConnectionStream(client.ID()))
		if len(evs) != 1 || evs[0].Type != events.ConnectionOpened || evs[0].Meta.Actor != smokeUser {
			t.Fatalf("connection stream = %v, want one connection.opened by %s", types(evs), smokeUser)
		}
		bad := fixtureEvent(t, "connect.json", map[string]string{"CONNECTION_ID": "other-connection", "TOKEN": mint(t, other)})
		if resp := wsResponse(t, fn.invoke(t, bad)); resp.StatusCode != 401 {
			t.Errorf("a token of another key: $connect answered %d, want 401", resp.StatusCode)
		}
	})

	t.Run("router", func(t *testing.T) {
		fn := start("RouterFunction")
		if resp := wsResponse(t, fn.invoke(t, fixtureEvent(t, "default-ping.json", placeholders))); resp.StatusCode != 200 {
			t.Fatalf("$default answered %d", resp.StatusCode)
		}
		if f := nextFrame(t, client, func(f frame) bool { return f.Type == "pong" }); f.ClientRequestID != "p-1" {
			t.Errorf("pong for %q, want p-1", f.ClientRequestID)
		}
		if resp := wsResponse(t, fn.invoke(t, fixtureEvent(t, "default-echo.json", placeholders))); resp.StatusCode != 200 {
			t.Fatalf("$default answered %d", resp.StatusCode)
		}
		f := nextFrame(t, client, func(f frame) bool { return f.Type == "response" })
		if f.ClientRequestID != "e-1" || f.Status != "completed" || !strings.Contains(string(f.Result), "smoke") {
			t.Errorf("echo response = %+v, want completed with the payload", f)
		}
	})

	t.Run("processor", func(t *testing.T) {
		fn := start("ProcessorFunction")
		ev := fixtureEvent(t, "eventbridge-submitted.json", nil)
		var eb awsevents.EventBridgeEvent
		if err := json.Unmarshal(ev, &eb); err != nil {
			t.Fatal(err)
		}
		submitted, err := events.Decode(eb.Detail)
		if err != nil {
			t.Fatal(err)
		}
		// The router appended it; the projector published it; the rule
		// hands it to the processor.
		if _, err := store.Append(ctx, submitted.StreamID, 0, submitted); err != nil {
			t.Fatal(err)
		}
		fn.invoke(t, ev)
		evs := mustLoad(t, store, events.RequestStream(busRequestID))
		if last := evs[len(evs)-1]; last.Type != events.RequestCompleted {
			t.Fatalf("request stream = %v, want it to end with request.completed", types(evs))
		}
	})

	projector := start(infra.ProjectorID)
	t.Run("projector fixture", func(t *testing.T) {
		out := projector.invoke(t, fixtureEvent(t, "dynamodb-stream.json", nil))
		assertNoBatchFailures(t, out)
		v, err := rt.Reader.GetRequest(ctx, streamRequestID)
		if err != nil || v.Status != "queued" || v.Owner != smokeUser {
			t.Fatalf("view of %s = %+v, %v; want queued, owned by %s", streamRequestID, v, err, smokeUser)
		}
		if !publishedEvent(t, cfg, published, streamRequestID) {
			t.Errorf("the projector did not publish %s to bus %s", streamRequestID, bus)
		}
	})

	batch := streamBatch(t, cfg, db, eventsTable)
	t.Run("projector stream", func(t *testing.T) {
		assertNoBatchFailures(t, projector.invoke(t, batch))
		v, err := rt.Reader.GetRequest(ctx, busRequestID)
		if err != nil || v.Status != "completed" {
			t.Fatalf("view of %s = %+v, %v; want completed", busRequestID, v, err)
		}
		c, err := rt.Reader.GetConnection(ctx, client.ID())
		if err != nil || c.Status != "open" || c.User != smokeUser {
			t.Fatalf("view of connection %s = %+v, %v; want open for %s", client.ID(), c, err, smokeUser)
		}
	})

	t.Run("fanout", func(t *testing.T) {
		fn := start("FanoutFunction")
		assertNoBatchFailures(t, fn.invoke(t, batch))
		evs := mustLoad(t, store, events.RequestStream(busRequestID))
		last := evs[len(evs)-1]
		nextFrame(t, client, func(f frame) bool {
			return f.Type == "event" && f.RequestID == busRequestID && f.Version == last.Version && f.Event == events.RequestCompleted
		})
	})

	t.Run("api", func(t *testing.T) {
		fn := start(infra.ApiFunctionID)
		var resp awsevents.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(fn.invoke(t, fixtureEvent(t, "http-get-request.json", placeholders)), &resp); err != nil {
			t.Fatal(err)
		}
		var view struct{ RequestID, Status, Owner string }
		if err := json.Unmarshal([]byte(resp.Body), &view); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /requests/%s = %d %s", busRequestID, resp.StatusCode, resp.Body)
		}
		if view.RequestID != busRequestID || view.Status != "completed" || view.Owner != smokeUser {
			t.Errorf("view = %+v, want %s completed, owned by %s", view, busRequestID, smokeUser)
		}
	})

	t.Run("disconnect", func(t *testing.T) {
		fn := start("DisconnectFunction")
		if resp := wsResponse(t, fn.invoke(t, fixtureEvent(t, "disconnect.json", placeholders))); resp.StatusCode != 200 {
			t.Fatalf("$disconnect answered %d", resp.StatusCode)
		}
		evs := mustLoad(t, store, events.ConnectionStream(client.ID()))
		if last := evs[len(evs)-1]; last.Type != events.ConnectionClosed {
			t.Fatalf("connection stream = %v, want it to end with connection.closed", types(evs))
		}
	})
}

// templateEnv is the environment the template gives function id, with each
// variable's value for the test taken from values; a variable the template
// sets to "" stays "". A variable the test has no value for fails the test:
// the smoke test runs each main exactly as configured.
func templateEnv(t testing.TB, tpl *infra.Template, id string, values map[string]string) map[string]string {
	t.Helper()
	vars := infra.Map(infra.Path(tpl.FunctionProperties(id), "Environment", "Variables"))
	if len(vars) == 0 {
		t.Fatalf("%s has no environment in the template", id)
	}
	env := map[string]string{}
	for name, v := range vars {
		if c, ok := infra.Canonical(v); ok && c == "" {
			env[name] = ""
			continue
		}
		val, ok := values[name]
		if !ok {
			t.Fatalf("%s: the template sets %s, for which the smoke test has no value", id, name)
		}
		env[name] = val
	}
	return env
}

func mint(t testing.TB, key *auth.DevKey) string {
	t.Helper()
	tok, err := key.Mint(auth.TokenSpec{User: smokeUser, Tenant: smokeTenant, TTL: time.Hour, Issuer: smokeIssuer, Audience: smokeAudience})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func wsResponse(t testing.TB, out []byte) awsevents.APIGatewayProxyResponse {
	t.Helper()
	var r awsevents.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("not a proxy response: %s", out)
	}
	return r
}

func assertNoBatchFailures(t testing.TB, out []byte) {
	t.Helper()
	var r awsevents.DynamoDBEventResponse
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("not a DynamoDB event response: %s", out)
	}
	if len(r.BatchItemFailures) > 0 {
		t.Fatalf("batch item failures: %+v", r.BatchItemFailures)
	}
}

func mustLoad(t testing.TB, s events.Store, stream string) []events.Event {
	t.Helper()
	evs, err := events.LoadAll(context.Background(), s, stream, 1)
	if err != nil {
		t.Fatalf("load %s: %v", stream, err)
	}
	return evs
}

func types(evs []events.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

// frame is the part of a server frame the smoke test reads.
type frame struct {
	Type            string          `json:"type"`
	RequestID       string          `json:"requestId"`
	Version         int64           `json:"version"`
	ClientRequestID string          `json:"clientRequestId"`
	Status          string          `json:"status"`
	Event           string          `json:"event"`
	Result          json.RawMessage `json:"result"`
}

// nextFrame reads the client's frames until one matches (other frames are
// skipped), for at most 30 s.
func nextFrame(t testing.TB, c *gatewaytest.Client, match func(frame) bool) frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var seen []string
	for {
		m, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("no matching frame reached the socket (%v); frames seen: %v", err, seen)
		}
		var f frame
		if err := json.Unmarshal(m.Data, &f); err != nil {
			t.Fatalf("frame is not JSON: %s", m.Data)
		}
		if match(f) {
			return f
		}
		seen = append(seen, string(m.Data))
	}
}

// busWithQueue creates an EventBridge bus and an SQS queue that receives
// every entry of the bus (a rule on source streamer), so the test sees
// what the projector publishes.
func busWithQueue(t testing.TB, cfg aws.Config) (bus, queueURL string) {
	t.Helper()
	ctx := context.Background()
	eb, q := eventbridge.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	bus = testenv.UniqueName(t, "bus")
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String(bus)}); err != nil {
		t.Fatal(err)
	}
	qo, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(testenv.UniqueName(t, "published"))})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: qo.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	rule := testenv.UniqueName(t, "all")
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(rule), EventBusName: aws.String(bus),
		EventPattern: aws.String(fmt.Sprintf(`{"source":[%q]}`, smokeSource))}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(rule), EventBusName: aws.String(bus),
		Targets: []ebtypes.Target{{Id: aws.String("queue"), Arn: aws.String(attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)])}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String(rule), EventBusName: aws.String(bus), Ids: []string{"queue"}})
		eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String(rule), EventBusName: aws.String(bus)})
		eb.DeleteEventBus(ctx, &eventbridge.DeleteEventBusInput{Name: aws.String(bus)})
		q.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: qo.QueueUrl})
	})
	return bus, aws.ToString(qo.QueueUrl)
}

// publishedEvent reports whether an entry for requestID reached the queue
// within 30 s.
func publishedEvent(t testing.TB, cfg aws.Config, queueURL, requestID string) bool {
	t.Helper()
	q := sqs.NewFromConfig(cfg)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		out, err := q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			var entry awsevents.EventBridgeEvent
			if json.Unmarshal([]byte(aws.ToString(m.Body)), &entry) == nil && entry.Source == smokeSource &&
				strings.Contains(string(entry.Detail), events.RequestStream(requestID)) {
				return true
			}
		}
	}
	return false
}

// streamBatch reads every record of the events table's stream from moto
// and returns the DynamoDB event Lambda would deliver with them.
func streamBatch(t testing.TB, cfg aws.Config, db *dynamodb.Client, table string) []byte {
	t.Helper()
	ctx := context.Background()
	desc, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(desc.Table.LatestStreamArn)
	s := dynamodbstreams.NewFromConfig(cfg)
	sd, err := s.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	var recs []dbstypes.Record
	for _, sh := range sd.StreamDescription.Shards {
		it, err := s.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn), ShardId: sh.ShardId, ShardIteratorType: dbstypes.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		for iter := it.ShardIterator; iter != nil; {
			out, err := s.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Records) == 0 {
				break
			}
			recs = append(recs, out.Records...)
			iter = out.NextShardIterator
		}
	}
	ev, err := streams.ToLambdaEvent(arn, testenv.Region, recs)
	if err != nil {
		t.Fatal(err)
	}
	var streamsSeen []string
	for _, r := range ev.Records {
		if k := r.Change.Keys["stream"]; !slices.Contains(streamsSeen, k.String()) {
			streamsSeen = append(streamsSeen, k.String())
		}
	}
	if len(streamsSeen) < 2 {
		t.Fatalf("the events table's stream holds records of %v, want the connection and the requests", streamsSeen)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
