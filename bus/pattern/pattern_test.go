package pattern_test

import (
	"errors"
	"testing"

	"github.com/streamer/streamer/bus/pattern"
	"github.com/streamer/streamer/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestMatchTable runs the table through our matcher.
func TestMatchTable(t *testing.T) {
	if len(matchCases) < 60 {
		t.Fatalf("the table has %d cases, want at least 60", len(matchCases))
	}
	for _, tc := range matchCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := pattern.Compile([]byte(tc.pattern))
			if err != nil {
				t.Fatalf("compile %s: %v", tc.pattern, err)
			}
			ev, ok := testEvents[tc.event]
			if !ok {
				t.Fatalf("no test event %q", tc.event)
			}
			got, err := p.Match(ev.eventJSON(eventID(tc.event)))
			if err != nil {
				t.Fatalf("match: %v", err)
			}
			if got != tc.want {
				t.Fatalf("pattern %s on event %s: got %v, want %v", tc.pattern, tc.event, got, tc.want)
			}
		})
	}
}

// TestCompileRejects: patterns EventBridge's PutRule refuses.
func TestCompileRejects(t *testing.T) {
	for _, tc := range []struct{ name, pattern, path string }{
		{"not json", `{"source":`, ""},
		{"not an object", `["streamer"]`, ""},
		{"trailing data", `{"source":["a"]} {}`, ""},
		{"empty pattern", `{}`, ""},
		{"empty nested object", `{"detail":{}}`, "detail"},
		{"scalar field", `{"source":"streamer"}`, "source"},
		{"empty array", `{"source":[]}`, "source"},
		{"nested array value", `{"source":[["a"]]}`, "source"},
		{"two keys in expression", `{"source":[{"prefix":"a","suffix":"b"}]}`, "source"},
		{"unknown operator", `{"source":[{"regex":"a.*"}]}`, "source"},
		{"prefix not string", `{"source":[{"prefix":1}]}`, "source"},
		{"prefix bad object", `{"source":[{"prefix":{"wildcard":"a"}}]}`, "source"},
		{"suffix not string", `{"source":[{"suffix":["a"]}]}`, "source"},
		{"equals-ignore-case not string", `{"source":[{"equals-ignore-case":1}]}`, "source"},
		{"exists not bool", `{"source":[{"exists":"true"}]}`, "source"},
		{"numeric not array", `{"detail":{"n":[{"numeric":">"}]}}`, "detail.n"},
		{"numeric empty", `{"detail":{"n":[{"numeric":[]}]}}`, "detail.n"},
		{"numeric bad operator", `{"detail":{"n":[{"numeric":["!=",1]}]}}`, "detail.n"},
		{"numeric string value", `{"detail":{"n":[{"numeric":[">","1"]}]}}`, "detail.n"},
		{"numeric missing value", `{"detail":{"n":[{"numeric":[">"]}]}}`, "detail.n"},
		{"numeric upper then lower", `{"detail":{"n":[{"numeric":["<",1,">",0]}]}}`, "detail.n"},
		{"numeric empty range", `{"detail":{"n":[{"numeric":[">",5,"<",5]}]}}`, "detail.n"},
		{"numeric inverted range", `{"detail":{"n":[{"numeric":[">",5,"<",1]}]}}`, "detail.n"},
		{"numeric too many", `{"detail":{"n":[{"numeric":[">",0,"<",5,"<",6]}]}}`, "detail.n"},
		{"numeric = with more", `{"detail":{"n":[{"numeric":["=",0,"<",5]}]}}`, "detail.n"},
		{"numeric out of range", `{"detail":{"n":[{"numeric":[">",5000000001]}]}}`, "detail.n"},
		{"numeric too precise", `{"detail":{"n":[{"numeric":[">",0.0000001]}]}}`, "detail.n"},
		{"anything-but mixed list", `{"source":[{"anything-but":["a",1]}]}`, "source"},
		{"anything-but null", `{"source":[{"anything-but":null}]}`, "source"},
		{"anything-but bool in list", `{"source":[{"anything-but":[true]}]}`, "source"},
		{"anything-but empty list", `{"source":[{"anything-but":[]}]}`, "source"},
		{"anything-but empty prefix", `{"source":[{"anything-but":{"prefix":""}}]}`, "source"},
		{"anything-but unknown", `{"source":[{"anything-but":{"numeric":[">",1]}}]}`, "source"},
		{"anything-but number out of range", `{"source":[{"anything-but":1e10}]}`, "source"},
		{"anything-but ignore case number", `{"source":[{"anything-but":{"equals-ignore-case":1}}]}`, "source"},
		{"wildcard consecutive stars", `{"source":[{"wildcard":"a**b"}]}`, "source"},
		{"wildcard bad escape", `{"source":[{"wildcard":"a\\b"}]}`, "source"},
		{"wildcard trailing backslash", `{"source":[{"wildcard":"a\\"}]}`, "source"},
		{"anything-but bad wildcard", `{"source":[{"anything-but":{"wildcard":"**"}}]}`, "source"},
		{"cidr invalid", `{"detail":{"ip":[{"cidr":"10.0.0.0"}]}}`, "detail.ip"},
		{"or not array", `{"$or":{"source":["a"]}}`, "$or"},
		{"or one branch", `{"$or":[{"source":["a"]}]}`, "$or"},
		{"or scalar branch", `{"$or":[{"source":["a"]},"b"]}`, "$or"},
		{"or reserved name", `{"$or":[{"source":["a"]},{"prefix":["b"]}]}`, "prefix"},
		{"or empty branch", `{"$or":[{"source":["a"]},{}]}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := pattern.Compile([]byte(tc.pattern))
			if err == nil {
				t.Fatalf("compile %s succeeded (%v), want an error", tc.pattern, p)
			}
			var pe *pattern.Error
			if !errors.Is(err, pattern.ErrInvalidPattern) || !errors.As(err, &pe) {
				t.Fatalf("error %v: want a *pattern.Error matching ErrInvalidPattern", err)
			}
			if pe.Path != tc.path {
				t.Fatalf("error %v names path %q, want %q", err, pe.Path, tc.path)
			}
		})
	}
}

// TestCompileAccepts: the edge forms EventBridge takes.
func TestCompileAccepts(t *testing.T) {
	for _, p := range []string{
		`{"source":[""]}`,
		`{"source":[{"prefix":""}]}`,
		`{"detail":{"n":[{"numeric":[">=",-5e9,"<=",5e9]}]}}`,
		`{"detail":{"n":[{"numeric":["=",0.000001]}]}}`,
		`{"detail":{"n":[123456789012345678901234567890]}}`,
		`{"source":[{"anything-but":{"prefix":["a","b"]}}]}`,
		`{"source":[{"anything-but":{"suffix":"x"}}]}`,
		`{"source":[{"wildcard":"a\\\\b*"}]}`,
		`{"detail":{"ip":[{"cidr":"2001:db8::/32"}]}}`,
		`{"$or":[{"source":["a"]},{"detail":{"$or":[{"x":["1"]},{"y":["2"]}]}}]}`,
	} {
		if _, err := pattern.Compile([]byte(p)); err != nil {
			t.Errorf("compile %s: %v", p, err)
		}
	}
}

// TestMatchEdges covers what the moto table cannot: values moto would
// see differently, and the numeric domain.
func TestMatchEdges(t *testing.T) {
	for _, tc := range []struct {
		name, pattern, event string
		want                 bool
	}{
		{"precision beyond six decimals is not comparable", `{"n":[{"numeric":[">",0]}]}`, `{"n":0.0000001}`, false},
		{"six decimals compare exactly", `{"n":[{"numeric":["=",0.3]}]}`, `{"n":0.300000}`, true},
		{"no float rounding", `{"n":[{"numeric":[">",0.1,"<",0.3]}]}`, `{"n":0.2}`, true},
		{"value above the domain", `{"n":[{"numeric":[">",0]}]}`, `{"n":6e9}`, false},
		{"domain bound", `{"n":[{"numeric":[">=",5e9]}]}`, `{"n":5000000000}`, true},
		{"huge exponent", `{"n":[{"numeric":[">",0]}]}`, `{"n":1e999999999}`, false},
		{"zero spellings", `{"n":[0]}`, `{"n":-0.0e5}`, true},
		{"anything-but number keeps other types", `{"n":[{"anything-but":[0]}]}`, `{"n":"0"}`, true},
		{"anything-but string list keeps numbers", `{"n":[{"anything-but":["0"]}]}`, `{"n":0}`, true},
		{"dotted key is structural", `{"a":{"b":["x"]}}`, `{"a.b":"x"}`, false},
		{"exists false on missing parent", `{"a":{"b":[{"exists":false}]}}`, `{"c":1}`, true},
		{"exists false inside array element", `{"a":{"b":[{"exists":false}]}}`, `{"a":[{"b":1},{"c":2}]}`, true},
		{"array element with both fields", `{"a":{"b":["1"],"c":["2"]}}`, `{"a":[{"b":"1"},{"b":"1","c":"2"}]}`, true},
		{"or inside array element", `{"a":{"$or":[{"b":["1"]},{"c":["2"]}]}}`, `{"a":[{"c":"2"}]}`, true},
		{"prefix ignore case unicode", `{"s":[{"prefix":{"equals-ignore-case":"ÄB"}}]}`, `{"s":"äbc"}`, true},
		{"wildcard whole string", `{"s":[{"wildcard":"abc"}]}`, `{"s":"abcd"}`, false},
		{"wildcard overlapping parts", `{"s":[{"wildcard":"ab*ba"}]}`, `{"s":"aba"}`, false},
		{"wildcard repeated part", `{"s":[{"wildcard":"*a*a*"}]}`, `{"s":"xaya"}`, true},
		{"wildcard escaped backslash", `{"s":[{"wildcard":"a\\\\*"}]}`, `{"s":"a\\bc"}`, true},
		{"ipv6 cidr", `{"ip":[{"cidr":"2001:db8::/32"}]}`, `{"ip":"2001:db8::1"}`, true},
		{"cidr on a non-address", `{"ip":[{"cidr":"10.0.0.0/8"}]}`, `{"ip":"ten"}`, false},
		{"number text equality beyond the domain", `{"n":[123456789012345678901234567890]}`, `{"n":123456789012345678901234567890}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pattern.MustCompile(tc.pattern).Match([]byte(tc.event))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("%s on %s: got %v, want %v", tc.pattern, tc.event, got, tc.want)
			}
		})
	}
}

func TestMatchRejectsNonObjects(t *testing.T) {
	p := pattern.MustCompile(`{"source":["a"]}`)
	for _, ev := range []string{``, `[]`, `"x"`, `{"source":"a"} x`, `{"source":`} {
		if _, err := p.Match([]byte(ev)); err == nil {
			t.Errorf("match %q: no error", ev)
		}
	}
}

func TestParseEventOnceMatchMany(t *testing.T) {
	ev, err := pattern.ParseEvent(testEvents["completed"].eventJSON("x"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, tc := range matchCases {
		if tc.event != "completed" {
			continue
		}
		n++
		if got := pattern.MustCompile(tc.pattern).MatchEvent(ev); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	if n == 0 {
		t.Fatal("no case on the completed event")
	}
}

func TestStringKeepsSource(t *testing.T) {
	src := `{"source": ["streamer"]}`
	if got := pattern.MustCompile(src).String(); got != src {
		t.Fatalf("String() = %q, want %q", got, src)
	}
}
