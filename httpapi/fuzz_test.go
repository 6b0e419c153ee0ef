package httpapi

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"
)

// FuzzCursor: the cursor decoders take any client input without
// panicking, and accept only what round-trips.
func FuzzCursor(f *testing.F) {
	f.Add(encodeCursor(eventsCursor{Kind: kindEvents, Request: "r1", From: 3}), "r1", "")
	f.Add(encodeCursor(eventsCursor{Kind: kindEvents, Request: "r1", From: 7, AsOf: "2026-11-28T03:00:00Z"}), "r1", "2026-11-28T03:00:00Z")
	f.Add(encodeCursor(listCursor{Kind: kindList, Store: "MTc2NDI5MDAwMDAwMDAwMDAwMDphMQ", Owner: "alice"}), "", "")
	f.Add("!!!", "r1", "")
	f.Add("e30", "r1", "")
	f.Fuzz(func(t *testing.T, s, id, asOf string) {
		if from, err := decodeEventsCursor(s, id, asOf); err == nil {
			back := encodeCursor(eventsCursor{Kind: kindEvents, Request: id, From: from, AsOf: asOf})
			if v, err := decodeEventsCursor(back, id, asOf); err != nil || v != from || from < 2 {
				t.Fatalf("accepted %q (from %d) does not round-trip: %v", s, from, err)
			}
		}
		want := listCursor{Kind: kindList, Owner: id, Since: asOf}
		if pos, err := decodeListCursor(s, want); err == nil {
			if pos == "" {
				t.Fatalf("accepted %q with an empty position", s)
			}
			want.Store = pos
			if back, err := decodeListCursor(encodeCursor(want), want); err != nil || back != pos {
				t.Fatalf("list cursor %q does not round-trip: %v", s, err)
			}
		}
	})
}

// FuzzClaimList: any claim string gives a list without empty items.
func FuzzClaimList(f *testing.F) {
	for _, s := range []string{"[audit:read rebuild]", `["audit:read","rebuild"]`, "a, b", "", "[]", "[", `["x",1]`, "[ a ]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, item := range ClaimList(s) {
			if item == "" {
				t.Fatalf("ClaimList(%q) has an empty item", s)
			}
		}
	})
}

// FuzzParseTime: an accepted time is UTC and survives formatting.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2026-11-28T03:00:00Z", "2026-11-28T04:00:00.123456789+01:00", "2026-11-28T04:00:00 01:00", "yesterday", "2026-02-30T00:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, ok := ParseTime(s)
		if !ok {
			return
		}
		if tm.Location() != time.UTC {
			t.Fatalf("ParseTime(%q) is not UTC", s)
		}
		back, ok := ParseTime(formatTime(tm, true))
		if !ok || !back.Equal(tm) {
			t.Fatalf("ParseTime(%q) = %v does not round-trip", s, tm)
		}
	})
}

// FuzzNewRequest: any API Gateway event either becomes a request for a
// path under / or is refused with an error.
func FuzzNewRequest(f *testing.F) {
	for _, s := range []string{
		`{"version":"2.0","rawPath":"/prod/requests/x","rawQueryString":"limit=2","requestContext":{"stage":"prod","http":{"method":"GET"}}}`,
		`{"rawPath":"/requests/%zz","requestContext":{"http":{"method":"GET"}}}`,
		`{"rawPath":"","requestContext":{"stage":"prod","http":{"method":"GET","path":"/prod"}}}`,
		`{"body":"%%%","isBase64Encoded":true,"requestContext":{"http":{"method":"POST"}}}`,
		`{"requestContext":{"authorizer":{"jwt":{"claims":{"sub":"u","tenant":"t","permissions":"[a b]"}}}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev awsevents.APIGatewayV2HTTPRequest
		if json.Unmarshal(b, &ev) != nil {
			return
		}
		PrincipalFromJWT(ev.RequestContext.Authorizer)
		r, err := NewRequest(context.Background(), ev)
		if err != nil {
			return
		}
		if !strings.HasPrefix(r.URL.Path, "/") {
			t.Fatalf("path %q", r.URL.Path)
		}
	})
}
