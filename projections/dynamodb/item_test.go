package dynamodb

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/streamer/streamer/projections"
)

func TestViewItemsRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)
	for _, tc := range []struct {
		name string
		v    projections.RequestView
	}{
		{"every field", projections.RequestView{RequestID: "r#1%", Action: "generate_report", Status: projections.StatusFailed,
			Percentage: 0.1 + 0.2, Message: "step ✓ <&>", Result: json.RawMessage(`{"a": [1, 2.50]}`),
			Error: &projections.RequestError{Code: "c", Message: "m", Retryable: true}, Owner: "al#ice", Tenant: "ac%me",
			Attempt: 3, CancelRequested: true, SubmittedAt: at, StartedAt: at.Add(1), UpdatedAt: at.Add(2), CompletedAt: at.Add(3), Version: 9}},
		{"bare", projections.RequestView{RequestID: "r2", Version: 1}},
		{"empty error", projections.RequestView{RequestID: "r3", Error: &projections.RequestError{}, Version: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			it, err := marshalRequest("g1", tc.v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := unmarshalRequest(it)
			if err != nil || !reflect.DeepEqual(got, tc.v) {
				t.Fatalf("round trip:\n got %+v, %v\nwant %+v", got, err, tc.v)
			}
		})
	}
	c := projections.ConnectionView{ConnectionID: "c1", User: "u", Tenant: "t", Status: projections.ConnectionOpen, CloseReason: "",
		ConnectedAt: at, LastSeen: at.Add(time.Second), ExpiresAt: at.Add(26 * time.Hour), Subscriptions: map[string]int64{"r-✓": 4, "r2": 0}, Version: 3}
	it, err := marshalConnection("g1", c)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := unmarshalConnection(it); err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("connection round trip:\n got %+v, %v\nwant %+v", got, err, c)
	}
	m := projections.Meta{Active: "g1", Rebuilding: "g2", Previous: "g0", Epoch: 2, Checkpoint: "cp", Done: 7, Revision: 3, UpdatedAt: at}
	if got, err := unmarshalMeta(marshalMeta(m)); err != nil || got != m {
		t.Fatalf("meta round trip: %+v, %v", got, err)
	}
}

func TestViewItemsRefused(t *testing.T) {
	for name, v := range map[string]projections.RequestView{
		"no ID":          {Version: 1},
		"version 0":      {RequestID: "r"},
		"NaN percentage": {RequestID: "r", Version: 1, Percentage: math.NaN()},
		"year 3000":      {RequestID: "r", Version: 1, SubmittedAt: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"bad UTF-8":      {RequestID: "r", Version: 1, Result: json.RawMessage("\"\xff\"")},
		"over 400 KB":    {RequestID: "r", Version: 1, Result: json.RawMessage(`"` + strings.Repeat("x", 400*1024) + `"`)},
	} {
		if _, err := marshalRequest("g1", v); err == nil {
			t.Errorf("%s: marshalled", name)
		}
	}
	for name, v := range map[string]projections.ConnectionView{
		"no ID":                 {Version: 1},
		"bad UTF-8 in a key":    {ConnectionID: "c", Version: 1, Subscriptions: map[string]int64{"r\xff": 1}},
		"empty subscription ID": {ConnectionID: "c", Version: 1, Subscriptions: map[string]int64{"": 1}},
	} {
		if _, err := marshalConnection("g1", v); err == nil {
			t.Errorf("%s: marshalled", name)
		}
	}
}

// TestIndexKeys: order keys sort as times do, sort keys as (time, ID), and
// escaped key parts never make two owners one key.
func TestIndexKeys(t *testing.T) {
	times := []time.Time{{}, time.Unix(-5, 0), time.Unix(0, 0), time.Unix(0, 1), time.Unix(1<<33, 999), time.Unix(0, math.MaxInt64)}
	for i := 1; i < len(times); i++ {
		if a, b := orderKey(times[i-1]), orderKey(times[i]); a >= b || len(a) != orderDigits || len(b) != orderDigits {
			t.Fatalf("order key of %v (%s) not below %v's (%s)", times[i-1], a, times[i], b)
		}
	}
	at := time.Unix(100, 0)
	ids := []string{"a", "a!", "a#", "ab", "b"}
	var keys []string
	for _, id := range ids {
		k := sortKey(at, id)
		keys = append(keys, k)
		if got, ok := parseSortKey(k); !ok || got != id {
			t.Fatalf("parse %q = %q, %v", k, got, ok)
		}
	}
	if !slices.IsSorted(keys) {
		t.Fatalf("sort keys out of ID order: %q", keys)
	}
	if ownerKey("g1", "a#b", "c") == ownerKey("g1", "a", "b#c") || ownerKey("g1", "a%23", "b") == ownerKey("g1", "a#", "b") {
		t.Fatal("escaped owner keys collide")
	}
	if got := ttlSeconds(time.Unix(10, 1)); got != 11 {
		t.Fatalf("ttl of 10.000000001 s = %d, want 11", got)
	}
	if got := ttlSeconds(time.Unix(10, 0)); got != 10 {
		t.Fatalf("ttl of 10 s = %d, want 10", got)
	}
}

func TestFailedConditions(t *testing.T) {
	tce := func(msg string, codes ...string) error {
		e := &types.TransactionCanceledException{Message: aws.String(msg)}
		for _, c := range codes {
			e.CancellationReasons = append(e.CancellationReasons, types.CancellationReason{Code: aws.String(c)})
		}
		return fmt.Errorf("wrapped: %w", e)
	}
	const ccf, none = reasonConditionalCheckFailed, "None"
	for _, tc := range []struct {
		name                    string
		err                     error
		n, fence                int
		fenced, conflict, known bool
	}{
		{"view failed", tce("", ccf, none), 2, 1, false, true, true},
		{"fence failed", tce("", none, ccf), 2, 1, true, false, true},
		{"both failed", tce("", ccf, none, ccf), 3, 2, true, true, true},
		{"unfenced", tce("", ccf), 1, -1, false, true, true},
		{"reasons in the message only", tce("Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]"), 2, 1, true, false, true},
		{"no reasons at all", tce("Transaction cancelled"), 2, 1, false, false, false},
		{"throttled", tce("", reasonThrottlingError, none), 2, 1, false, false, false},
		{"single item", &types.ConditionalCheckFailedException{}, 1, -1, false, true, true},
		{"other error", errors.New("boom"), 1, -1, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fenced, conflict, known := failedConditions(tc.err, tc.n, tc.fence)
			if fenced != tc.fenced || conflict != tc.conflict || known != tc.known {
				t.Fatalf("= fenced %v conflict %v known %v; want %v %v %v", fenced, conflict, known, tc.fenced, tc.conflict, tc.known)
			}
		})
	}
}

func TestIsTransient(t *testing.T) {
	api := func(code string) error { return &smithy.GenericAPIError{Code: code} }
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{api("ThrottlingException"), true},
		{api("ProvisionedThroughputExceededException"), true},
		{api("ValidationException"), false},
		{&types.ConditionalCheckFailedException{}, false},
		{&types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{{Code: aws.String("TransactionConflict")}}}, true},
		{&types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{{Code: aws.String("TransactionConflict")}, {Code: aws.String(reasonConditionalCheckFailed)}}}, false},
		{fmt.Errorf("x: %w", projections.ErrFenced), false},
	} {
		if got := isTransient(tc.err); got != tc.want {
			t.Errorf("isTransient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// FuzzCursor: list cursors come from clients; any string is either
// ErrInvalidCursor or a position whose cursor is the same string.
func FuzzCursor(f *testing.F) {
	for _, seed := range []string{cursor(sortKey(time.Unix(5, 0), "r1")), cursor(sortKey(time.Time{}, "x#y")), "", "garbage!", "bm90IGEgY3Vyc29y", "%%%"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, c string) {
		sort, id, err := parseCursor(c)
		if err != nil {
			if !errors.Is(err, projections.ErrInvalidCursor) {
				t.Fatalf("cursor %q: %v", c, err)
			}
			return
		}
		if id == "" || cursor(sort) != c {
			t.Fatalf("cursor %q parsed to %q (id %q), which encodes back to %q", c, sort, id, cursor(sort))
		}
	})
}

// FuzzCheckpoint: a rebuild checkpoint comes back from the Meta item;
// anything is an error or a checkpoint that encodes back to itself.
func FuzzCheckpoint(f *testing.F) {
	s := &Source{cfg: newConfig(nil)}
	fresh, _ := s.decode("")
	fresh.Segments[1] = scanPosition{Stream: "request/x", Version: 4, Read: 12}
	fresh.Segments[2] = scanPosition{Done: true, Read: 3}
	for _, seed := range []string{fresh.encode(), "", "x", "e30", "eyJmIjoxLCJzIjpbXX0"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, cp string) {
		c, err := s.decode(cp)
		if err != nil || cp == "" {
			return
		}
		again, err := s.decode(c.encode())
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("checkpoint %q decodes to %+v, which does not survive encoding: %+v, %v", cp, c, again, err)
		}
	})
}
