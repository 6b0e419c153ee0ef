package events

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The golden tables below pin the hash contract (docs/events.md) byte for
// byte: the canonical encoding and the hash of every case were produced by
// the original encoding/json implementation of CanonicalEncoding, before it
// was replaced by the hand-written canonicalizer. A change to any expected
// value here changes the hash of stored events and breaks every existing
// chain, so these values must never be regenerated to make a test pass.

// goldenDataCase is one input of canonicalJSON.
type goldenDataCase struct {
	name string
	in   string
}

// nest wraps mid in n levels of open … close.
func nest(n int, open, mid, close string) string {
	return strings.Repeat(open, n) + mid + strings.Repeat(close, n)
}

func goldenDataCases() []goldenDataCase {
	var many strings.Builder
	many.WriteString("{")
	for i := 60; i > 0; i-- {
		if i != 60 {
			many.WriteString(",")
		}
		fmt.Fprintf(&many, `"key%02d":%d`, i, i)
	}
	many.WriteString("}")
	return []goldenDataCase{
		// Shapes.
		{"empty object", `{}`},
		{"empty array", `[]`},
		{"two keys reversed", `{"b":1,"a":2}`},
		{"progress payload", `{"percentage":50,"message":"processing chunk"}`},
		{"submitted payload", `{"action":"echo","payload":{"x":[1,2,{"z":0,"y":"w"}]},"owner":"u1","tenant":"t1"}`},
		{"nested mixed", `{"z":{"y":[3,{"b":true,"a":null}],"x":"s"},"a":[[],{}],"m":[null,false,true,"",0]}`},
		{"empty containers", `{"a":{},"b":[],"c":[{}],"d":[[]],"e":{"f":{}}}`},
		{"sixty keys reversed", many.String()},
		{"100 nested arrays", nest(100, "[", "", "]")},
		{"50 nested objects", nest(50, `{"k":`, `{"b":2,"a":1}`, "}")},
		// Whitespace everywhere.
		{"whitespace everywhere", " \t\r\n{ \"b\" :\n[ 1 , 2 ,\r\n3 ] ,\t\"a\" : { } , \"c\" : \"x y\" }\n\t "},
		{"whitespace around array", "\n[ ]\n"},
		{"whitespace inside string", "{\"a\" :\t\"  spaced  \"\n}"},
		// Unicode.
		{"unicode keys and values", `{"ключ":"значение","日本":"語","emoji":"😀","é":"e` + "\u0301" + `"}`},
		{"unicode escapes", `{"a":"\u00e9","b":"\u65e5\u672c","c":"\uFFFF","d":"\u0080"}`},
		{"key order across planes", `{"\u007f":1,"\u0080":2,"\uffff":3,"\ud800\udc00":4,"` + "\U0010FFFF" + `":5,"` + "\uE000" + `":6}`},
		// Escapes.
		{"short escapes", `{"s":"a\u0000b\"c\\d\/e\bf\fg\nh\ri\tj"}`},
		{"control escapes", `{"c":"\u0001\u001f\u007f\u0080\u00ff\u0020\u0008\u000c\u000a\u000d\u0009\u000b"}`},
		{"slash quote backslash", `{"slash":"\/\/","q":"\"","bs":"\\\\"}`},
		{"html characters", `{"html":"</script>&<>","k<&>":"v","amp":"\u0026\u003c\u003e"}`},
		{"line and paragraph separators", "{\"ls\":\"a\u2028b\u2029c\",\"esc\":\"\\u2028\\u2029\",\"k\u2028\":1}"},
		{"surrogates", `{"pair":"\ud83d\ude00","upper":"\uD83D\uDE00","lone_hi":"\ud83d","lone_lo":"\ude00x","hi_hi":"\ud83d\ud83d\ude00","hi_then_ascii":"\ud83d\u0041","lo_hi":"\ude00\ud83d","hi_end":"x\udbff"}`},
		{"replacement character", `{"repl":"\ufffd","raw":"` + "\xef\xbf\xbd" + `"}`},
		{"delete character", "{\"del\":\"\x7f\",\"mixed\":\"a\x7fé\"}"},
		// Invalid UTF-8 inside strings is valid JSON to encoding/json: each
		// bad byte decodes to U+FFFD.
		{"invalid utf-8", "{\"bad\":\"\xff\xfe\",\"trunc\":\"\xe2\x80\",\"k\xff\":1,\"sur\":\"\xed\xa0\x80\",\"over\":\"\xc0\xaf\"}"},
		// Numbers are kept verbatim.
		{"numbers verbatim", `{"n":[1,-0,1.50,1e400,1E+2,0.0,-1.5e-10,12345678901234567890123,0e0,1e-0,-0.0E-00]}`},
		{"numbers in array", `[0,1,-1,100,3.14159,2e10,2E-10,-2e+10]`},
		// Duplicate keys: the last one wins.
		{"duplicate key", `{"a":1,"b":2,"a":3}`},
		{"duplicate key other type", `{"a":{"x":1},"a":[2]}`},
		{"duplicate key nested", `{"a":1,"a":1,"a":{"c":1,"c":2}}`},
		{"duplicate key via escape", `{"a":1,"\u0061":2}`},
		{"duplicate key via escape nested", `{"\u0061":1,"a":2,"b":{"\u0062":3,"b":4}}`},
		{"duplicate keys interleaved", `{"k":1,"j":2,"k":3,"j":4,"k":5}`},
		// Key order is by the decoded key, not its escaped form.
		{"key order decoded", `{"\n":1,"A":2,"\\":3,"\u0041B":4,"~":5,"é":6,"\u00e9x":7," ":8,"":9,"\"":10,"\u0000":11}`},
		{"key order prefixes", `{"ab":1,"a":2,"abc":3,"b":0,"B":-1,"aa":4}`},
		{"key order astral", `{"\ud83d\ude00":1,"\uffff":2,"\ufffd":3}`},
		// Top-level values other than objects.
		{"top string", `"str"`},
		{"top number", `123`},
		{"top negative zero", `-0`},
		{"top true", `true`},
		{"top false", `false`},
		{"top null", `null`},
		{"top array", `[1,"a",{"b":[]}]`},
		// The decoder reads the first value and ignores what follows.
		{"trailing word", `{"a":1} trailing`},
		{"trailing brace", `{"a":1}}`},
		{"number then letter", `1x`},
		{"literal then letter", `truex`},
		{"leading zero", `01`},
		{"trailing vertical tab", `{"a":1}` + "\v"},
		{"trailing nbsp", `{"a":1}` + "\u00a0"},
		// Empty or whitespace-only data canonicalises as {}.
		{"empty", ``},
		{"spaces", `   `},
		{"json whitespace", "\n\t\r"},
		{"vertical tab only", "\v"},
		{"nbsp only", "\u00a0"},
		{"line separator only", "\u2028"},
		// Long strings.
		{"long strings", `{"long":"` + strings.Repeat("abcdefghij", 200) + `","longesc":"` + strings.Repeat(`\n\u00e9`, 100) + `"}`},
		// Invalid JSON: the error text is encoding/json's.
		{"unclosed object", `{`},
		{"lone close", `}`},
		{"key without value", `{"a"}`},
		{"missing value", `{"a":}`},
		{"trailing comma object", `{"a":1,}`},
		{"trailing comma array", `[1,]`},
		{"missing comma", `[1 2]`},
		{"missing colon", `{"a" 1}`},
		{"single quotes", `{'a':1}`},
		{"bare key", `{a:1}`},
		{"bad escape", `"\x"`},
		{"apostrophe escape", `"\'"`},
		{"short unicode escape", `"\u12"`},
		{"bad unicode escape", `"\u12g4"`},
		{"control character", "\"a\x01\""},
		{"raw newline", "\"a\nb\""},
		{"unterminated string", `"unterminated`},
		{"truncated null", `nul`},
		{"truncated true", `tru`},
		{"lone minus", `-`},
		{"dot at end", `1.`},
		{"dot then exponent", `1.e5`},
		{"bare exponent", `1e`},
		{"exponent sign only", `1e+`},
		{"leading dot", `.5`},
		{"leading plus", `+1`},
		{"minus letter", `-a`},
		{"NaN", `NaN`},
		{"leading vertical tab", "\v{}"},
		{"byte order mark", "\xef\xbb\xbf{}"},
		{"nul byte", "\x00"},
		{"missing comma object", `{"a":1 "b":2}`},
		{"mismatched close", `{"a":[1}`},
		{"colon in array", `[1:2]`},
		{"depth 10000", nest(10000, "[", "", "]")},
		{"depth 10001 arrays", nest(10001, "[", "", "]")},
		{"depth 10001 objects", nest(10001, `{"a":`, "1", "}")},
	}
}

// goldenEventCase is one input of CanonicalEncoding and ComputeHash.
type goldenEventCase struct {
	name string
	prev string
	e    Event
}

func goldenEventCases() []goldenEventCase {
	base := Event{
		ID: "01900000-0000-7000-8000-000000000001", StreamID: "request/r1", Version: 3,
		Type: RequestProgressed, SchemaVersion: 2,
		Time: time.Date(2026, 11, 28, 3, 0, 0, 123456000, time.UTC),
		Meta: Meta{Actor: "system:worker", Tenant: "t1", CorrelationID: "corr-0001", Source: "processor"},
		Data: []byte(`{"percentage":50,"message":"processing chunk"}`),
	}
	with := func(f func(e *Event)) Event { e := base; f(&e); return e }
	prev := "ab28037818723f61ef630aaac9e43090125a14c58d94e6899fb8f617771b39eb"
	return []goldenEventCase{
		{"progress", prev, base},
		{"first version", "", with(func(e *Event) { e.Version = 1 })},
		{"odd prev hash", "weird\nprev\"<&>", base},
		{"empty meta", prev, with(func(e *Event) { e.Meta = Meta{} })},
		{"meta needing escapes", prev, with(func(e *Event) {
			e.Meta = Meta{Actor: "<script>alert(1)</script>", Tenant: `a"b\c/d`, CorrelationID: "line\nbreak\ttab\x00\x01\x1f\b\f\r",
				CausationID: "\u2028\u2029", TraceID: "é日本😀\ufffd", Source: "\x7f&amp;"}
		})},
		{"invalid utf-8 in header", prev, with(func(e *Event) { e.ID = "id\xffbad"; e.Meta.Actor = "\xe2\x80"; e.Meta.Tenant = "\xed\xa0\x80" })},
		{"html in id and stream", prev, with(func(e *Event) { e.ID = "<id>&"; e.StreamID = "connection/c&<>"; e.Type = ConnectionOpened })},
		{"whole second", prev, with(func(e *Event) { e.Time = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) })},
		{"nanoseconds", prev, with(func(e *Event) { e.Time = time.Date(2026, 1, 2, 3, 4, 5, 100, time.UTC) })},
		{"before 1970", prev, with(func(e *Event) { e.Time = time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC) })},
		{"year 10000", prev, with(func(e *Event) { e.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) })},
		{"year -1", prev, with(func(e *Event) { e.Time = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) })},
		{"zero time", prev, with(func(e *Event) { e.Time = time.Time{} })},
		{"time not in UTC", prev, with(func(e *Event) {
			e.Time = time.Date(2026, 11, 28, 5, 0, 0, 5000, time.FixedZone("plus2", 2*3600))
		})},
		{"negative version", prev, with(func(e *Event) { e.Version = -7; e.SchemaVersion = 0 })},
		{"extreme numbers", prev, with(func(e *Event) { e.Version = 1<<63 - 1; e.SchemaVersion = -1 << 31 })},
		{"nil data", prev, with(func(e *Event) { e.Data = nil })},
		{"blank data", prev, with(func(e *Event) { e.Data = []byte(" \n ") })},
		{"data needing escapes", prev, with(func(e *Event) {
			e.Data = []byte("{\"b\":\"</script>&\u2028\",\"a\":[1e400,-0,1.50],\"a\":{\"z\":\"\\ud83d\\ude00\"}}")
		})},
		{"invalid data", prev, with(func(e *Event) { e.Data = []byte(`{"a":`) })},
		{"stored hashes ignored", prev, with(func(e *Event) { e.PrevHash = "ignored"; e.Hash = "ignored" })},
	}
}

// goldenPrepareEvents is a chain appended by Prepare with fixed IDs and clock.
func goldenPrepareEvents() (string, []Event, time.Time) {
	m := Meta{Actor: "alice<&>", Tenant: "acme", CorrelationID: "c\u2028", Source: "api"}
	mk := func(id, typ string, data string) Event {
		return Event{ID: id, Type: typ, Meta: m, Data: []byte(data)}
	}
	return RequestStream("golden"), []Event{
		mk("id-1", RequestSubmitted, ` { "owner":"alice", "action":"report", "payload":{"b":[1,2.50],"a":"</x>"} } `),
		mk("id-2", RequestStarted, `{"worker":"w-1","attempt":1}`),
		mk("id-3", RequestProgressed, `{"percentage":12.5,"message":"é\u00e9","metadata":{"z":1,"y":{"b":1,"a":2}}}`),
		{ID: "id-4", Type: RequestProgressed, SchemaVersion: 1, Meta: m, Data: []byte(`{"percent":40,"status":"old shape"}`)},
		mk("id-5", RequestCompleted, `{"result":{"rows":3,"ok":true}}`),
	}, time.Date(2026, 11, 28, 3, 0, 0, 123456789, time.UTC)
}

// goldenDigest shortens long expected values: "sha256:<hex>" of the bytes.
func goldenDigest(b []byte) string {
	if len(b) <= 400 {
		return string(b)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func TestGoldenCanonicalJSON(t *testing.T) {
	cases := goldenDataCases()
	if len(cases) != len(goldenDataWant) {
		t.Fatalf("%d cases, %d expectations", len(cases), len(goldenDataWant))
	}
	for _, c := range cases {
		want, ok := goldenDataWant[c.name]
		if !ok {
			t.Fatalf("no expectation for %q", c.name)
		}
		out, err := canonicalJSON([]byte(c.in))
		got := "ok: " + goldenDigest(out)
		if err != nil {
			got = "error: " + err.Error()
		}
		if got != want {
			t.Errorf("%s: canonicalJSON(%.60q)\n got %q\nwant %q", c.name, c.in, got, want)
		}
	}
}

func TestGoldenHashes(t *testing.T) {
	cases := goldenEventCases()
	if len(cases) != len(goldenEventWant) {
		t.Fatalf("%d cases, %d expectations", len(cases), len(goldenEventWant))
	}
	for _, c := range cases {
		want, ok := goldenEventWant[c.name]
		if !ok {
			t.Fatalf("no expectation for %q", c.name)
		}
		enc, err := CanonicalEncoding(c.e)
		h, herr := ComputeHash(c.prev, c.e)
		var got [2]string
		if err != nil {
			got = [2]string{"error: " + err.Error(), "error: " + herr.Error()}
		} else if herr != nil {
			t.Fatalf("%s: CanonicalEncoding succeeds but ComputeHash fails: %v", c.name, herr)
		} else {
			got = [2]string{string(enc), h}
		}
		if got != want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, want)
		}
	}
}

func TestGoldenPrepare(t *testing.T) {
	stream, evs, now := goldenPrepareEvents()
	out, _, err := Prepare(stream, Head{}, evs, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(goldenPrepareWant) {
		t.Fatalf("%d events, %d expectations", len(out), len(goldenPrepareWant))
	}
	for i, e := range out {
		if e.Hash != goldenPrepareWant[i] {
			t.Errorf("event %d: hash %s, want %s", i+1, e.Hash, goldenPrepareWant[i])
		}
	}
	if err := Verify(out); err != nil {
		t.Fatal(err)
	}
	// The first broken link is still reported the same way.
	out[2].Data = []byte(`{"percentage":12.5}`)
	var ce *ChainError
	if err := Verify(out); !errors.As(err, &ce) || ce.Version != 3 {
		t.Fatalf("Verify after tampering = %v", err)
	}
}

// goldenDataWant is canonicalJSON's result per case: "ok: " and the
// canonical bytes (or their goldenDigest), or "error: " and the error text.
var goldenDataWant = map[string]string{
	"empty object":                    "ok: {}",
	"empty array":                     "ok: []",
	"two keys reversed":               "ok: {\"a\":2,\"b\":1}",
	"progress payload":                "ok: {\"message\":\"processing chunk\",\"percentage\":50}",
	"submitted payload":               "ok: {\"action\":\"echo\",\"owner\":\"u1\",\"payload\":{\"x\":[1,2,{\"y\":\"w\",\"z\":0}]},\"tenant\":\"t1\"}",
	"nested mixed":                    "ok: {\"a\":[[],{}],\"m\":[null,false,true,\"\",0],\"z\":{\"x\":\"s\",\"y\":[3,{\"a\":null,\"b\":true}]}}",
	"empty containers":                "ok: {\"a\":{},\"b\":[],\"c\":[{}],\"d\":[[]],\"e\":{\"f\":{}}}",
	"sixty keys reversed":             "ok: sha256:c82bd26300191c0d3d2e5562336088e3f5642f527d6d86ccf950767ba4bbdf44",
	"100 nested arrays":               "ok: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
	"50 nested objects":               "ok: {\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"k\":{\"a\":1,\"b\":2}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}",
	"whitespace everywhere":           "ok: {\"a\":{},\"b\":[1,2,3],\"c\":\"x y\"}",
	"whitespace around array":         "ok: []",
	"whitespace inside string":        "ok: {\"a\":\"  spaced  \"}",
	"unicode keys and values":         "ok: {\"emoji\":\"😀\",\"é\":\"é\",\"ключ\":\"значение\",\"日本\":\"語\"}",
	"unicode escapes":                 "ok: {\"a\":\"é\",\"b\":\"日本\",\"c\":\"\uffff\",\"d\":\"\u0080\"}",
	"key order across planes":         "ok: {\"\x7f\":1,\"\u0080\":2,\"\ue000\":6,\"\uffff\":3,\"𐀀\":4,\"\U0010ffff\":5}",
	"short escapes":                   "ok: {\"s\":\"a\\u0000b\\\"c\\\\d/e\\bf\\fg\\nh\\ri\\tj\"}",
	"control escapes":                 "ok: {\"c\":\"\\u0001\\u001f\x7f\u0080ÿ \\b\\f\\n\\r\\t\\u000b\"}",
	"slash quote backslash":           "ok: {\"bs\":\"\\\\\\\\\",\"q\":\"\\\"\",\"slash\":\"//\"}",
	"html characters":                 "ok: {\"amp\":\"&<>\",\"html\":\"</script>&<>\",\"k<&>\":\"v\"}",
	"line and paragraph separators":   "ok: {\"esc\":\"\\u2028\\u2029\",\"k\\u2028\":1,\"ls\":\"a\\u2028b\\u2029c\"}",
	"surrogates":                      "ok: {\"hi_end\":\"x�\",\"hi_hi\":\"�😀\",\"hi_then_ascii\":\"�A\",\"lo_hi\":\"��\",\"lone_hi\":\"�\",\"lone_lo\":\"�x\",\"pair\":\"😀\",\"upper\":\"😀\"}",
	"replacement character":           "ok: {\"raw\":\"�\",\"repl\":\"�\"}",
	"delete character":                "ok: {\"del\":\"\x7f\",\"mixed\":\"a\x7fé\"}",
	"invalid utf-8":                   "ok: {\"bad\":\"��\",\"k�\":1,\"over\":\"��\",\"sur\":\"���\",\"trunc\":\"��\"}",
	"numbers verbatim":                "ok: {\"n\":[1,-0,1.50,1e400,1E+2,0.0,-1.5e-10,12345678901234567890123,0e0,1e-0,-0.0E-00]}",
	"numbers in array":                "ok: [0,1,-1,100,3.14159,2e10,2E-10,-2e+10]",
	"duplicate key":                   "ok: {\"a\":3,\"b\":2}",
	"duplicate key other type":        "ok: {\"a\":[2]}",
	"duplicate key nested":            "ok: {\"a\":{\"c\":2}}",
	"duplicate key via escape":        "ok: {\"a\":2}",
	"duplicate key via escape nested": "ok: {\"a\":2,\"b\":{\"b\":4}}",
	"duplicate keys interleaved":      "ok: {\"j\":4,\"k\":5}",
	"key order decoded":               "ok: {\"\":9,\"\\u0000\":11,\"\\n\":1,\" \":8,\"\\\"\":10,\"A\":2,\"AB\":4,\"\\\\\":3,\"~\":5,\"é\":6,\"éx\":7}",
	"key order prefixes":              "ok: {\"B\":-1,\"a\":2,\"aa\":4,\"ab\":1,\"abc\":3,\"b\":0}",
	"key order astral":                "ok: {\"�\":3,\"\uffff\":2,\"😀\":1}",
	"top string":                      "ok: \"str\"",
	"top number":                      "ok: 123",
	"top negative zero":               "ok: -0",
	"top true":                        "ok: true",
	"top false":                       "ok: false",
	"top null":                        "ok: null",
	"top array":                       "ok: [1,\"a\",{\"b\":[]}]",
	"trailing word":                   "ok: {\"a\":1}",
	"trailing brace":                  "ok: {\"a\":1}",
	"number then letter":              "ok: 1",
	"literal then letter":             "ok: true",
	"leading zero":                    "ok: 0",
	"trailing vertical tab":           "ok: {\"a\":1}",
	"trailing nbsp":                   "ok: {\"a\":1}",
	"empty":                           "ok: {}",
	"spaces":                          "ok: {}",
	"json whitespace":                 "ok: {}",
	"vertical tab only":               "ok: {}",
	"nbsp only":                       "ok: {}",
	"line separator only":             "ok: {}",
	"long strings":                    "ok: sha256:00d9f8922691980925de78f02ac59a82637602fcb0c28b385f282fdc5d15b363",
	"unclosed object":                 "error: unexpected EOF",
	"lone close":                      "error: invalid character '}' looking for beginning of value",
	"key without value":               "error: invalid character '}' after object key",
	"missing value":                   "error: invalid character '}' looking for beginning of value",
	"trailing comma object":           "error: invalid character '}' looking for beginning of object key string",
	"trailing comma array":            "error: invalid character ']' looking for beginning of value",
	"missing comma":                   "error: invalid character '2' after array element",
	"missing colon":                   "error: invalid character '1' after object key",
	"single quotes":                   "error: invalid character '\\'' looking for beginning of object key string",
	"bare key":                        "error: invalid character 'a' looking for beginning of object key string",
	"bad escape":                      "error: invalid character 'x' in string escape code",
	"apostrophe escape":               "error: invalid character '\\'' in string escape code",
	"short unicode escape":            "error: invalid character '\"' in \\u hexadecimal character escape",
	"bad unicode escape":              "error: invalid character 'g' in \\u hexadecimal character escape",
	"control character":               "error: invalid character '\\x01' in string literal",
	"raw newline":                     "error: invalid character '\\n' in string literal",
	"unterminated string":             "error: unexpected EOF",
	"truncated null":                  "error: unexpected EOF",
	"truncated true":                  "error: unexpected EOF",
	"lone minus":                      "error: unexpected EOF",
	"dot at end":                      "error: unexpected EOF",
	"dot then exponent":               "error: invalid character 'e' after decimal point in numeric literal",
	"bare exponent":                   "error: unexpected EOF",
	"exponent sign only":              "error: unexpected EOF",
	"leading dot":                     "error: invalid character '.' looking for beginning of value",
	"leading plus":                    "error: invalid character '+' looking for beginning of value",
	"minus letter":                    "error: invalid character 'a' in numeric literal",
	"NaN":                             "error: invalid character 'N' looking for beginning of value",
	"leading vertical tab":            "error: invalid character '\\v' looking for beginning of value",
	"byte order mark":                 "error: invalid character 'ï' looking for beginning of value",
	"nul byte":                        "error: invalid character '\\x00' looking for beginning of value",
	"missing comma object":            "error: invalid character '\"' after object key:value pair",
	"mismatched close":                "error: invalid character '}' after array element",
	"colon in array":                  "error: invalid character ':' after array element",
	"depth 10000":                     "ok: sha256:88b516df742a232dad9132d8e5173704287f890c30624fd29fb22abfe7b58e37",
	"depth 10001 arrays":              "error: invalid character '[' exceeded max depth",
	"depth 10001 objects":             "error: invalid character '{' exceeded max depth",
}

// goldenEventWant is {CanonicalEncoding, ComputeHash} per case, or both errors.
var goldenEventWant = map[string][2]string{
	"progress": {
		"[\"streamer.v1\",\"01900000-0000-7000-8000-000000000001\",\"request/r1\",3,\"request.progress\",2,\"2026-11-28T03:00:00.123456Z\",[\"system:worker\",\"t1\",\"corr-0001\",\"\",\"\",\"processor\"],{\"message\":\"processing chunk\",\"percentage\":50}]",
		"8aac693e8d4dc8f9ec696f840c3160d6cb9771196185bd838e0dee040059dec4",
	},
	"first version": {
		"[\"streamer.v1\",\"01900000-0000-7000-8000-000000000001\",\"request/r1\",1,\"request.progress\",2,\"2026-11-28T03:00:00.123456Z\",[\"system:worker\",\"t1\",\"corr-0001\",\"\",\"\",\"processor\"],{\"message\":\"processing chunk\",\"percentage\":50}]",
		"0af3a8dbfd0beb2be08366c798c5aba0bcba2497bb41858d4c2da34867fa8b32",
	},
	"odd prev hash": {
		"[\"streamer.v1\",\"01900000-0000-7000-8000-000000000001\",\"request/r1\",3,\"request.progress\",2,\"2026-11-28T03:00:00.123456Z\",[\"system:worker\",\"t1\",\"corr-0001\",\"\",\"\",\"processor\"],{\"message\":\"processing chunk\",\"percentage\":50}]",
		"cd584eb08b9c88f02715be41f34ef70b49e313c8942e428e46007206143225e9",
	},
	"empty meta": {
		"[\"streamer.v1\",\"01900000-0000-7000-8000-000000000001\",\"request/r1\",3,\"request.progress\",2,\"2026-11-28T03:00:00.123456Z\",[\"\",\"\",\"\",\"\",\"\",\"\"],{\"message\":\"processing chunk\",\"percentage\":50}]",
		"836f0d861a0ae975cca30abe7e6ce668fe89fa9f2f5692baf9d8af07c6c69746",
	},
	"meta needing escapes": {
		"[\"streamer.v1\",\"01900000-0000-7000-8000-000000000001\",\"request/r1\",3,\"request.progress\",2,\"2026-11-28T03:00:00.123456Z\",[\"\\u003cscript\\u003ealert(1)\\u003c/script\\u003e\",\"a\\\"b\\\\c/d\",\"line\\nbreak\\ttab\\u0000\\u0001\\u001f\\b\\f\\r\",\"\\u2028\\u2029\",\"é日本😀�\",\"\x7f\\u0026amp;\"],{\"message\":\"processing chunk\",\"percentage\":50}]",
		"687f6f8c713dd8154e5f91e57d9a531f89f9bf3e612a42a1be4c813267477248",
	},
	"invalid utf-8 in header": {
		"[\"streamer.v1\",\"id\\ufffdbad\",\"request/r1\",3,\"request.progress\",2,\"2026-11-28T03:00:00.123456Z\",[\"\\ufffd\\ufffd\",\"\\ufffd\\ufffd\\ufffd\",\"corr-0001\",\"\",\"\",\"processor\"],{\"message\":\"processing chunk\",\"percentage\":50}]",
		"17f4ecee4cce7af529e56fffe6f000b95be8eec7cde49370a70952f133e9e34f",
	},
	"html in id and stream": {
		"[\"streamer.v1\",\"\\u003cid\\u003e\\u0026\",\"connection/c\\u0026\\u003c\\u003e\",3,\"connection.opened\",2,\"2026-11-28T03:00:00.123456Z\",[\"system:worker\",\"t1\",\"corr-0001\",\"\",\"\",\"processor\"],{\"message\":\"processing chunk\",\"percentage\":50}]",
		"c346eb46839fc8ec9486ef1dee4e78feacea1ac859467c69cabf74abbe5eb2e7",
	},
	"whole second": {
		"[\"streamer.v1\",\"01900000-0000-7000-8000-000000000001\",\"request/r1\",3,\"request.progress\",2,\"2026-01-02T03:04:05Z\",[\"system:worker\",\"t1\",\"corr-0001\",\"\",\"\",\"processor\"],{\"message\":\"processing chunk\",\"percentage\":50}]",
		"8672a12cde5906477f558eb64fee4a340c2856095f92ebfc72a267e954fcec0b",
	},
	"nanoseconds": {
		"[\"streamer.v1\",\"01900000-0000-7000-8000-000000000001\",\"request/r1\",3,\"request.progress\",2,\"2026-01-02T03:04:05.0000001Z\",[\"system:worker\",\"t1\",\"corr-0001\",\"\",\"\",\"processor\"],{\"message\":\"processing chunk\",\"percentage\":50}]",
		"e27110e91f2563b82d839b0e7a275385db53f27b0eb10ceddaa9e7fe7f9bc79b",
	},
	"before 1970": {
		"[\"streamer.v1\",\"01900000-0000-7000-8000-000000000001\",\"request/r1\",3,\"request.progress\",2,\"1969-12-31T23:59:59.999999999Z\",[\"system:worker\",\"t1\",\"corr-0001\",\"\",\"\",\"processor\"],{\"message\":\"processing chunk\",\"percentage\":50}]",
		"e6b5129196058a2dd80ebc186b5cc1438457494ce0f6c7411d5c56686ce0f1a2",
	},
	"year 10000": {
		"[\"streamer.v1\",\"01900000-0000-7000-8000-000000000001\",\"request/r1\",3,\"request.progress\",2,\"10000-01-01T00:00:00Z\",[\"system:worker\",\"t1\",\"corr-0001\",\"\",\"\",\"processor\"],{\"message\":\"processing chunk\",\"percentage\":50}]",
		"d968b701e5243314a0ad5e7236c77cbb65845a2d5c9e87fa78f55b1610e81767",
	},
	"year -1": {
		"[\"streamer.v1\",\"01900000-0000-7000-8000-000000000001\",\"request/r1\",3,\"request.progress\",2,\"-0001-01-01T00:00:00Z\",[\"system:worker\",\"t1\",\"corr-0001\",\"\",\"\",\"processor\"],{\"message\":\"processing chunk\",\"percentage\":50}]",
		"72ee9ed62eecaf915d99f77bac83fc2600d44f2a3402bc9d91717364384e8720",
	},
	"zero time": {
		"[\"streamer.v1\",\"01900000-0000-7000-8000-000000000001\",\"request/r1\",3,\"request.progress\",2,\"0001-01-01T00:00:00Z\",[\"system:worker\",\"t1\",\"corr-0001\",\"\",\"\",\"processor\"],{\"message\":\"processing chunk\",\"percentage\":50}]",
		"d96c399931e7264a28869a2b039425bfe85934767701c2271fdb08c3e0663ab9",
	},
	"time not in UTC": {
		"[\"streamer.v1\",\"01900000-0000-7000-8000-000000000001\",\"request/r1\",3,\"request.progress\",2,\"2026-11-28T03:00:00.000005Z\",[\"system:worker\",\"t1\",\"corr-0001\",\"\",\"\",\"processor\"],{\"message\":\"processing chunk\",\"percentage\":50}]",
		"8a288ac0425c4032faee5bc113fcf515aa44894a8a5cfcace145fa2f3057c235",
	},
	"negative version": {
		"[\"streamer.v1\",\"01900000-0000-7000-8000-000000000001\",\"request/r1\",-7,\"request.progress\",0,\"2026-11-28T03:00:00.123456Z\",[\"system:worker\",\"t1\",\"corr-0001\",\"\",\"\",\"processor\"],{\"message\":\"processing chunk\",\"percentage\":50}]",
		"abbf34deebc7ea4651d5ac96dc9f5ee5493fca7acf0fba2cd1e01683fd3e7956",
	},
	"extreme numbers": {
		"[\"streamer.v1\",\"01900000-0000-7000-8000-000000000001\",\"request/r1\",9223372036854775807,\"request.progress\",-2147483648,\"2026-11-28T03:00:00.123456Z\",[\"system:worker\",\"t1\",\"corr-0001\",\"\",\"\",\"processor\"],{\"message\":\"processing chunk\",\"percentage\":50}]",
		"bc63cb33ec9cdb5629f96bdc96badcb44c9ba54b01326811d11281630d34556c",
	},
	"nil data": {
		"[\"streamer.v1\",\"01900000-0000-7000-8000-000000000001\",\"request/r1\",3,\"request.progress\",2,\"2026-11-28T03:00:00.123456Z\",[\"system:worker\",\"t1\",\"corr-0001\",\"\",\"\",\"processor\"],{}]",
		"080ce2dc8a849bad386b168525afe4f9acc8dc7010bdf7c37d7b2e6f76a3ba62",
	},
	"blank data": {
		"[\"streamer.v1\",\"01900000-0000-7000-8000-000000000001\",\"request/r1\",3,\"request.progress\",2,\"2026-11-28T03:00:00.123456Z\",[\"system:worker\",\"t1\",\"corr-0001\",\"\",\"\",\"processor\"],{}]",
		"080ce2dc8a849bad386b168525afe4f9acc8dc7010bdf7c37d7b2e6f76a3ba62",
	},
	"data needing escapes": {
		"[\"streamer.v1\",\"01900000-0000-7000-8000-000000000001\",\"request/r1\",3,\"request.progress\",2,\"2026-11-28T03:00:00.123456Z\",[\"system:worker\",\"t1\",\"corr-0001\",\"\",\"\",\"processor\"],{\"a\":{\"z\":\"😀\"},\"b\":\"</script>&\\u2028\"}]",
		"33170af293a7c8baea2ff1eaa4de137b823349d5dd4d983cd956da04d4c5de02",
	},
	"invalid data": {"error: canonical data of request/r1@3: unexpected EOF", "error: canonical data of request/r1@3: unexpected EOF"},
	"stored hashes ignored": {
		"[\"streamer.v1\",\"01900000-0000-7000-8000-000000000001\",\"request/r1\",3,\"request.progress\",2,\"2026-11-28T03:00:00.123456Z\",[\"system:worker\",\"t1\",\"corr-0001\",\"\",\"\",\"processor\"],{\"message\":\"processing chunk\",\"percentage\":50}]",
		"8aac693e8d4dc8f9ec696f840c3160d6cb9771196185bd838e0dee040059dec4",
	},
}

// goldenPrepareWant is the hash of each event of goldenPrepareEvents.
var goldenPrepareWant = []string{
	"32bb429ac8f0ac1f2101ac1bc22ee193158b640fe0fe922015879f13a448967c",
	"6a3e58f7d5369d06677359a9ef8a0459b0cfc2df796a26ef044a5bf07fded7c5",
	"efaa7e3f82edee8dac71fd5c64a826b1ebb8a8cb62d8fabc8cae9b41f3beb379",
	"f2faf7526517120f015ba8de95a09d48770546ec13c3d3e8047dc9e3f81936de",
	"bd6540c7ccd06735c69f8493bff480ccc6b04ee71f9bafb953be0e156acef82a",
}
