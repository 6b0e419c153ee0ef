package pattern_test

import (
	"testing"

	"github.com/streamer/streamer/bus/pattern"
)

// FuzzCompile: Compile never panics; what it accepts matches any event
// without panicking, and its errors are *pattern.Error.
func FuzzCompile(f *testing.F) {
	for _, tc := range matchCases {
		f.Add([]byte(tc.pattern))
	}
	ev := testEvents["shapes"].eventJSON("fuzz")
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := pattern.Compile(src)
		if err != nil {
			if _, ok := err.(*pattern.Error); !ok {
				t.Fatalf("error %T %v is not a *pattern.Error", err, err)
			}
			return
		}
		if _, err := p.Match(ev); err != nil {
			t.Fatalf("match: %v", err)
		}
	})
}

// FuzzMatch: matching any event against any valid pattern never panics,
// and Match agrees with ParseEvent + MatchEvent.
func FuzzMatch(f *testing.F) {
	for _, tc := range matchCases {
		f.Add([]byte(tc.pattern), testEvents[tc.event].eventJSON("fuzz"))
	}
	f.Fuzz(func(t *testing.T, src, event []byte) {
		p, err := pattern.Compile(src)
		if err != nil {
			return
		}
		got, err := p.Match(event)
		ev, perr := pattern.ParseEvent(event)
		if (err == nil) != (perr == nil) {
			t.Fatalf("Match error %v, ParseEvent error %v", err, perr)
		}
		if err == nil && got != p.MatchEvent(ev) {
			t.Fatalf("Match %v, MatchEvent %v", got, !got)
		}
	})
}
