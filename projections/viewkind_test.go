package projections_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/projections"
)

func TestParseViewKind(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want projections.ViewKind
		err  bool
	}{
		{"", projections.ViewAll, false},
		{"all", projections.ViewAll, false},
		{"requests", projections.ViewRequests, false},
		{" Connections ", projections.ViewConnections, false},
		{"request", "", true},
		{"sessions", "", true},
		{"requests,connections", "", true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := projections.ParseViewKind(tc.in)
			if tc.err {
				if !errors.Is(err, projections.ErrUnknownViewKind) {
					t.Fatalf("ParseViewKind(%q) = %q, %v; want ErrUnknownViewKind", tc.in, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseViewKind(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestViewKindSelects(t *testing.T) {
	req, conn := events.KindRequest, events.KindConnection
	for _, tc := range []struct {
		k            projections.ViewKind
		kinds, other []projections.ViewKind
		req, conn    bool
	}{
		{"", []projections.ViewKind{projections.ViewRequests, projections.ViewConnections}, nil, true, true},
		{projections.ViewAll, []projections.ViewKind{projections.ViewRequests, projections.ViewConnections}, nil, true, true},
		{projections.ViewRequests, []projections.ViewKind{projections.ViewRequests}, []projections.ViewKind{projections.ViewConnections}, true, false},
		{projections.ViewConnections, []projections.ViewKind{projections.ViewConnections}, []projections.ViewKind{projections.ViewRequests}, false, true},
		{"bogus", nil, nil, false, false},
	} {
		t.Run(tc.k.String(), func(t *testing.T) {
			if got := tc.k.Kinds(); !slices.Equal(got, tc.kinds) {
				t.Errorf("Kinds = %q, want %q", got, tc.kinds)
			}
			if got := tc.k.Others(); !slices.Equal(got, tc.other) {
				t.Errorf("Others = %q, want %q", got, tc.other)
			}
			if tc.k.Includes(req) != tc.req || tc.k.Includes(conn) != tc.conn {
				t.Errorf("Includes(request, connection) = %v, %v; want %v, %v", tc.k.Includes(req), tc.k.Includes(conn), tc.req, tc.conn)
			}
		})
	}
}

// FuzzParseViewKind: the --view flag comes from the command line; any
// string is either ErrUnknownViewKind or a valid selection that parses to
// itself again.
func FuzzParseViewKind(f *testing.F) {
	for _, s := range []string{"", "all", "requests", "connections", "REQUESTS ", "request", "all,requests"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := projections.ParseViewKind(s)
		if err != nil {
			if !errors.Is(err, projections.ErrUnknownViewKind) || k != "" {
				t.Fatalf("ParseViewKind(%q) = %q, %v", s, k, err)
			}
			return
		}
		if k.Validate() != nil || len(k.Kinds()) == 0 {
			t.Fatalf("ParseViewKind(%q) = %q, not a valid selection", s, k)
		}
		if again, err := projections.ParseViewKind(string(k)); err != nil || again != k {
			t.Fatalf("ParseViewKind(%q) = %q, %v; want %q", k, again, err, k)
		}
	})
}
