package dynamodb_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/projections"
	"github.com/streamer/streamer/projections/dynamodb"
)

// fault is what an injected failure looks like on the wire.
type fault struct {
	status  int
	errType string // the __type DynamoDB sends, e.g. "ThrottlingException"
	message string
	// reasons, when set, are the CancellationReasons codes of a
	// TransactionCanceledException.
	reasons []string
}

var (
	throttling = fault{status: 400, errType: "ThrottlingException", message: "injected by the test"}
	txConflict = fault{status: 400, errType: "TransactionCanceledException",
		message: "Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict, None]",
		reasons: []string{"TransactionConflict", "None"}}
)

// body is the JSON DynamoDB would answer with.
func (f fault) body() string {
	m := map[string]any{"__type": "com.amazonaws.dynamodb.v20120810#" + f.errType, "message": f.message}
	if f.reasons != nil {
		var rs []map[string]string
		for _, r := range f.reasons {
			rs = append(rs, map[string]string{"Code": r})
		}
		m["CancellationReasons"] = rs
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// injector answers the first n calls of one operation with a fault, as a
// Deserialize-step middleware next to the transport (the request never
// reaches moto): the SDK's real deserializer turns the faked response into
// the typed API error. It records every request body of op.
type injector struct {
	op     string
	f      fault
	mu     sync.Mutex
	left   int
	bodies []string
}

func inject(op string, n int, f fault) *injector { return &injector{op: op, f: f, left: n} }

func (in *injector) calls() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.bodies...)
}

func (in *injector) apiOption(stack *middleware.Stack) error {
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("injectFault",
		func(ctx context.Context, req middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
			if middleware.GetOperationName(ctx) != in.op {
				return next.HandleDeserialize(ctx, req)
			}
			body := ""
			if r, ok := req.Request.(*smithyhttp.Request); ok {
				if s := r.GetStream(); s != nil {
					if seeker, ok := s.(io.ReadSeeker); ok {
						b, _ := io.ReadAll(seeker)
						seeker.Seek(0, io.SeekStart)
						body = string(b)
					}
				}
			}
			in.mu.Lock()
			in.bodies = append(in.bodies, body)
			hit := in.left > 0
			if hit {
				in.left--
			}
			in.mu.Unlock()
			if !hit {
				return next.HandleDeserialize(ctx, req)
			}
			b := in.f.body()
			resp := &http.Response{
				StatusCode:    in.f.status,
				Header:        http.Header{"Content-Type": {"application/x-amz-json-1.0"}, "X-Amzn-Requestid": {"injected"}},
				Body:          io.NopCloser(strings.NewReader(b)),
				ContentLength: int64(len(b)),
			}
			return middleware.DeserializeOutput{RawResponse: &smithyhttp.Response{Response: resp}}, middleware.Metadata{}, nil
		}), middleware.After)
}

// fastRetries keeps the fault tests quick while still backing off.
var fastRetries = dynamodb.WithRetryPolicy(dynamodb.RetryPolicy{MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond})

// faultyStore is generation "g1" of fresh, bootstrapped views, fenced on
// epoch 1, whose client answers the first n calls of op with f.
func faultyStore(t *testing.T, op string, n int, f fault) (projections.ViewStore, *injector) {
	t.Helper()
	table := newTable(t)
	if _, err := projections.Bootstrap(context.Background(), dynamodb.New(client(t), table)); err != nil {
		t.Fatal(err)
	}
	in := inject(op, n, f)
	s, err := dynamodb.New(client(t, in.apiOption), table, fastRetries).Open(context.Background(), "g1", 1)
	if err != nil {
		t.Fatal(err)
	}
	return s, in
}

func request(id string, version int64) projections.RequestView {
	return projections.RequestView{RequestID: id, Action: "echo", Status: projections.StatusQueued, Owner: "alice", Tenant: "acme",
		SubmittedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Version: version}
}

// TestTransientFailuresAreRetried: throttling and a transaction conflict
// are retried, with the same idempotency token, and the write lands once;
// when every attempt fails the error is transient, not a conflict.
func TestTransientFailuresAreRetried(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		f    fault
	}{
		{"ThrottlingException", throttling},
		{"TransactionCanceled for a TransactionConflict", txConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, in := faultyStore(t, "TransactWriteItems", 2, tc.f)
			if err := s.PutRequest(ctx, request("r1", 1), 0); err != nil {
				t.Fatalf("put: %v", err)
			}
			calls := in.calls()
			if len(calls) != 3 {
				t.Fatalf("TransactWriteItems sent %d times, want 3 (two failed, one through)", len(calls))
			}
			var tokens []string
			for _, c := range calls {
				var body struct{ ClientRequestToken string }
				if err := json.Unmarshal([]byte(c), &body); err != nil {
					t.Fatal(err)
				}
				tokens = append(tokens, body.ClientRequestToken)
			}
			if tokens[0] == "" || tokens[1] != tokens[0] || tokens[2] != tokens[0] {
				t.Fatalf("idempotency tokens %q: want one token for every attempt of a write", tokens)
			}
			if got, err := s.GetRequest(ctx, "r1"); err != nil || got.Version != 1 {
				t.Fatalf("view after the retried put: %+v, %v", got, err)
			}
		})
	}
	t.Run("retries exhausted", func(t *testing.T) {
		s, in := faultyStore(t, "TransactWriteItems", 100, throttling)
		err := s.PutRequest(ctx, request("r1", 1), 0)
		if !errors.Is(err, events.ErrTransient) || errors.Is(err, projections.ErrViewConflict) || errors.Is(err, projections.ErrFenced) {
			t.Fatalf("put under endless throttling: %v; want ErrTransient only", err)
		}
		if n := len(in.calls()); n != 4 {
			t.Fatalf("%d attempts, want the policy's 4", n)
		}
	})
	t.Run("reads", func(t *testing.T) {
		s, in := faultyStore(t, "GetItem", 2, throttling)
		if _, err := s.GetRequest(ctx, "nope"); !errors.Is(err, projections.ErrNotFound) {
			t.Fatalf("get after throttling: %v", err)
		}
		if n := len(in.calls()); n != 3 {
			t.Fatalf("%d GetItem calls, want 3", n)
		}
	})
}

// TestCancellationWithoutReasons: a TransactionCanceledException without
// CancellationReasons is still mapped by the positions its message lists,
// and without them by reading the Meta epoch.
func TestCancellationWithoutReasons(t *testing.T) {
	ctx := context.Background()
	cancelled := func(msg string) fault {
		return fault{status: 400, errType: "TransactionCanceledException", message: msg}
	}
	for _, tc := range []struct {
		name    string
		f       fault
		stale   bool // the store's fence is behind the Meta epoch
		want    error
		notWant error
	}{
		{"message names the view", cancelled("Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed, None]"),
			false, projections.ErrViewConflict, projections.ErrFenced},
		{"message names the fence", cancelled("Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]"),
			false, projections.ErrFenced, projections.ErrViewConflict},
		{"no list, fence current", cancelled("Transaction cancelled: ConditionalCheckFailed"), false, projections.ErrViewConflict, projections.ErrFenced},
		{"no list, fence stale", cancelled("Transaction cancelled: ConditionalCheckFailed"), true, projections.ErrFenced, projections.ErrViewConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := inject("TransactWriteItems", 0, tc.f)
			views := dynamodb.New(client(t, in.apiOption), newTable(t), fastRetries)
			m, err := projections.Bootstrap(ctx, views)
			if err != nil {
				t.Fatal(err)
			}
			if tc.stale {
				next := m
				next.Epoch++
				if _, err := views.SwapMeta(ctx, m.Revision, next); err != nil {
					t.Fatal(err)
				}
			}
			s, _ := views.Open(ctx, "g1", 1)
			in.mu.Lock()
			in.left = 1
			in.mu.Unlock()
			err = s.PutRequest(ctx, request("r1", 1), 0)
			if !errors.Is(err, tc.want) || errors.Is(err, tc.notWant) {
				t.Fatalf("put: %v; want %v only", err, tc.want)
			}
		})
	}
}

// TestConflictAndFenceTogether: when the view's version and the fence both
// fail, the write is ErrFenced (the caller must resolve its targets first),
// whichever way the conflict is found — by the transaction's cancellation
// reasons or by PutConnection's and DeleteConnection's read.
func TestConflictAndFenceTogether(t *testing.T) {
	ctx := context.Background()
	views := newViews(t)
	m, err := projections.Bootstrap(ctx, views)
	if err != nil {
		t.Fatal(err)
	}
	live, _ := views.Open(ctx, "g1", 1)
	r := request("r1", 1)
	c := projections.ConnectionView{ConnectionID: "c1", User: "alice", Tenant: "acme", Status: projections.ConnectionOpen,
		Subscriptions: map[string]int64{"r1": 0}, Version: 1}
	if err := live.PutRequest(ctx, r, 0); err != nil {
		t.Fatal(err)
	}
	if err := live.PutConnection(ctx, c, 0); err != nil {
		t.Fatal(err)
	}
	// The current fence: a wrong version is a conflict only.
	r5, c5 := r, c
	r5.Version, c5.Version = 5, 5
	for name, err := range map[string]error{
		"request":           live.PutRequest(ctx, r5, 4),
		"request insert":    live.PutRequest(ctx, r5, 0),
		"connection":        live.PutConnection(ctx, c5, 4),
		"connection delete": live.DeleteConnection(ctx, "c1", 4),
	} {
		if !errors.Is(err, projections.ErrViewConflict) || errors.Is(err, projections.ErrFenced) {
			t.Fatalf("%s at a wrong version, current fence: %v; want ErrViewConflict only", name, err)
		}
	}
	next := m
	next.Epoch = 2
	if _, err := views.SwapMeta(ctx, m.Revision, next); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"request":           live.PutRequest(ctx, r5, 4),
		"request insert":    live.PutRequest(ctx, r5, 0),
		"connection":        live.PutConnection(ctx, c5, 4),
		"connection delete": live.DeleteConnection(ctx, "c1", 4),
	} {
		if !errors.Is(err, projections.ErrFenced) || errors.Is(err, projections.ErrViewConflict) {
			t.Fatalf("%s at a wrong version, stale fence: %v; want ErrFenced only", name, err)
		}
	}
	// A missing view is ErrNotFound for a delete, fenced or not.
	if err := live.DeleteConnection(ctx, "nope", 1); !errors.Is(err, projections.ErrNotFound) {
		t.Fatalf("delete of a missing view: %v", err)
	}
}

// TestTooManyIndexChanges: a connection write whose subscription diff
// does not fit one transaction fails with ErrTooManyIndexChanges and
// changes nothing; within the limit it goes through.
func TestTooManyIndexChanges(t *testing.T) {
	ctx := context.Background()
	s, err := newViews(t).Open(ctx, "g1", 0)
	if err != nil {
		t.Fatal(err)
	}
	subs := func(from, n int) map[string]int64 {
		m := map[string]int64{}
		for i := range n {
			m[fmt.Sprintf("r%03d", from+i)] = 0
		}
		return m
	}
	c := projections.ConnectionView{ConnectionID: "c1", User: "alice", Tenant: "acme", Status: projections.ConnectionOpen, Version: 1}
	c.Subscriptions = subs(0, dynamodb.MaxIndexChanges)
	if err := s.PutConnection(ctx, c, 0); err != nil {
		t.Fatalf("open with %d subscriptions (the limit): %v", dynamodb.MaxIndexChanges, err)
	}
	// Swapping every subscription for another: twice the limit of changes.
	swapped := c
	swapped.Subscriptions, swapped.Version = subs(1000, dynamodb.MaxIndexChanges), 2
	err = s.PutConnection(ctx, swapped, 1)
	if !errors.Is(err, dynamodb.ErrTooManyIndexChanges) || errors.Is(err, projections.ErrViewConflict) {
		t.Fatalf("a diff of %d entries: %v; want ErrTooManyIndexChanges", 2*dynamodb.MaxIndexChanges, err)
	}
	if got, err := s.GetConnection(ctx, "c1"); err != nil || got.Version != 1 {
		t.Fatalf("view after the refused write: v%d, %v", got.Version, err)
	}
	if got, err := s.Subscribers(ctx, "r1000"); err != nil || len(got) != 0 {
		t.Fatalf("subscribers of r1000 after the refused write: %q, %v", got, err)
	}
	if err := s.PutNewer(ctx, projections.Batch{Connections: []projections.ConnectionView{swapped}}); !errors.Is(err, dynamodb.ErrTooManyIndexChanges) {
		t.Fatalf("put newer with a diff of %d entries: %v", 2*dynamodb.MaxIndexChanges, err)
	}
	// Closing removes every entry: within the limit.
	shut := c
	shut.Status, shut.Subscriptions, shut.Version = projections.ConnectionClosed, nil, 2
	if err := s.PutConnection(ctx, shut, 1); err != nil {
		t.Fatalf("close with %d subscriptions: %v", dynamodb.MaxIndexChanges, err)
	}
	if got, err := s.Subscribers(ctx, "r000"); err != nil || len(got) != 0 {
		t.Fatalf("subscribers of r000 after the close: %q, %v", got, err)
	}
	if dynamodb.MaxSubscriptions*2 > dynamodb.MaxIndexChanges {
		t.Fatalf("MaxSubscriptions %d: replacing them all must fit MaxIndexChanges %d", dynamodb.MaxSubscriptions, dynamodb.MaxIndexChanges)
	}
}
