package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// referenceCanonicalJSON is the original canonicalJSON, kept verbatim as the
// definition the hand-written canonicalizer must match byte for byte.
func referenceCanonicalJSON(raw json.RawMessage) ([]byte, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return []byte("{}"), nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // maps encode with sorted keys
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// referenceCanonicalEncoding is the original CanonicalEncoding, verbatim
// but for calling referenceCanonicalJSON.
func referenceCanonicalEncoding(e Event) ([]byte, error) {
	data, err := referenceCanonicalJSON(e.Data)
	if err != nil {
		return nil, fmt.Errorf("canonical data of %s@%d: %w", e.StreamID, e.Version, err)
	}
	m := e.Meta
	head, err := json.Marshal([]any{
		"streamer.v1", e.ID, e.StreamID, e.Version, e.Type, e.SchemaVersion,
		e.Time.UTC().Format(time.RFC3339Nano),
		[]string{m.Actor, m.Tenant, m.CorrelationID, m.CausationID, m.TraceID, m.Source},
	})
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(head)+len(data)+1)
	out = append(out, head[:len(head)-1]...)
	out = append(out, ',')
	out = append(out, data...)
	out = append(out, ']')
	return out, nil
}

// fastCanonicalJSON runs only the hand-written canonicalizer, without the
// encoding/json fallback, and returns what appendData reports.
func fastCanonicalJSON(raw []byte) (out []byte, compactLen int, ok bool) {
	c := getCanonicalizer()
	defer putCanonicalizer(c)
	compactLen, ok = c.appendData(raw)
	return bytes.Clone(c.out), compactLen, ok
}

// checkCanonical compares the canonicalizer with the reference on one input.
func checkCanonical(t *testing.T, in []byte) {
	t.Helper()
	want, wantErr := referenceCanonicalJSON(in)
	got, err := canonicalJSON(in)
	if !bytes.Equal(got, want) || fmt.Sprint(err) != fmt.Sprint(wantErr) {
		t.Fatalf("canonicalJSON(%q)\n got %q, %v\nwant %q, %v", in, got, err, want, wantErr)
	}
	if len(bytes.TrimSpace(in)) == 0 {
		return // answered before any scanning
	}
	// The fast path alone must take exactly what encoding/json takes.
	fast, compactLen, ok := fastCanonicalJSON(in)
	if ok != (wantErr == nil) || ok && !bytes.Equal(fast, want) {
		t.Fatalf("fast path on %q: %q, %v; reference %q, %v", in, fast, ok, want, wantErr)
	}
	if !ok {
		return
	}
	// The compact length is what json.Marshal makes of the raw message,
	// and it is unknown exactly when json.Marshal refuses the input.
	enc, err := json.Marshal(json.RawMessage(in))
	switch {
	case compactLen < 0 && err == nil:
		t.Fatalf("compact length of %q unknown, json.Marshal gives %q", in, enc)
	case compactLen >= 0 && (err != nil || len(enc) != compactLen):
		t.Fatalf("compact length of %q = %d, json.Marshal gives %q, %v", in, compactLen, enc, err)
	}
}

// FuzzCanonicalJSON compares the hand-written canonicalizer with the
// original encoding/json implementation: same bytes, same errors.
func FuzzCanonicalJSON(f *testing.F) {
	for _, c := range goldenDataCases() {
		if len(c.in) < 4096 {
			f.Add([]byte(c.in))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkCanonical(t, in)
	})
}

func TestCanonicalGolden(t *testing.T) {
	// The golden inputs, deep ones included, through the fast path too.
	for _, c := range goldenDataCases() {
		checkCanonical(t, []byte(c.in))
	}
}

// randomJSON writes a random JSON value, with whitespace, escapes, duplicate
// keys and non-ASCII text, for the randomized tests.
func randomJSON(r *rand.Rand, b *strings.Builder, depth int) {
	ws := func() {
		if r.IntN(4) == 0 {
			b.WriteString([]string{" ", "\n", "\t ", "\r\n"}[r.IntN(4)])
		}
	}
	str := func() {
		pieces := []string{"a", "b", "é", "日", "😀", `\"`, `\\`, `\/`, `\n`, `\u0000`, `\u00e9`, `\ud83d\ude00`, `\ud83d`,
			"\u2028", `\u2029`, "<", ">", "&", "\x7f", "\xff", " ", `\t`, `\u001f`, "k"}
		b.WriteByte('"')
		for range r.IntN(5) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		b.WriteByte('"')
	}
	ws()
	switch k := r.IntN(8); {
	case depth > 3 || k < 2:
		b.WriteString([]string{"0", "-1", "1.50", "1e400", "-0.0E+2", "true", "false", "null", "123456789012345678901234567890"}[r.IntN(9)])
	case k < 4:
		str()
	case k < 6:
		b.WriteByte('[')
		for i := range r.IntN(4) {
			if i > 0 {
				b.WriteByte(',')
			}
			randomJSON(r, b, depth+1)
		}
		ws()
		b.WriteByte(']')
	default:
		b.WriteByte('{')
		for i := range r.IntN(6) {
			if i > 0 {
				b.WriteByte(',')
			}
			ws()
			str()
			ws()
			b.WriteByte(':')
			randomJSON(r, b, depth+1)
		}
		ws()
		b.WriteByte('}')
	}
	ws()
}

func TestCanonicalRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		randomJSON(r, &b, 0)
		in := []byte(b.String())
		checkCanonical(t, in)
		// A damaged copy must fail or succeed alike too.
		if len(in) > 0 {
			bad := bytes.Clone(in)
			const junk = "{}[],:\"\\ax0-.e"
			bad[r.IntN(len(bad))] = junk[r.IntN(len(junk))]
			checkCanonical(t, bad)
		}
	}
}

// checkEvent compares CanonicalEncoding, ComputeHash and the size Prepare
// uses with the original implementation and Encode.
func checkEvent(t *testing.T, prev string, e Event) {
	t.Helper()
	want, wantErr := referenceCanonicalEncoding(e)
	got, err := CanonicalEncoding(e)
	if !bytes.Equal(got, want) || fmt.Sprint(err) != fmt.Sprint(wantErr) {
		t.Fatalf("CanonicalEncoding(%+v)\n got %q, %v\nwant %q, %v", e, got, err, want, wantErr)
	}
	hash, dataLen, err := hashEvent(prev, e)
	if err != nil {
		return
	}
	if h, _ := ComputeHash(prev, e); h != hash {
		t.Fatalf("ComputeHash %s, hashEvent %s", h, hash)
	}
	e.Hash = hash
	enc, encErr := Encode(e)
	if n, ok := encodedLen(e, dataLen); ok && (encErr != nil || n != len(enc)) {
		t.Fatalf("encodedLen(%+v) = %d, Encode gives %d bytes, %v", e, n, len(enc), encErr)
	}
}

// FuzzCanonicalEncoding compares the header encoding and the envelope size
// with the original implementation and Encode.
func FuzzCanonicalEncoding(f *testing.F) {
	f.Add("01900000-0000-7000-8000-000000000001", "request/r1", "system:worker", "t1<&>", "\u2028\xff", "",
		int64(3), int64(1795834800123456000), []byte(`{"percentage":50,"message":"processing chunk"}`))
	f.Add("<id>", "connection/\"c\"", "", "\x00\x1f\x7f", "é日本😀", "ab\ncd", int64(-1), int64(-1<<62), []byte(" {\"a\":\"\\u003c\"} "))
	f.Fuzz(func(t *testing.T, id, stream, actor, tenant, source, prev string, version, unixNano int64, data []byte) {
		e := Event{
			ID: id, StreamID: stream, Version: version, Type: RequestProgressed, SchemaVersion: int(version % 5),
			Time: time.Unix(0, unixNano).UTC(), Data: data,
			Meta: Meta{Actor: actor, Tenant: tenant, CorrelationID: id, CausationID: source, TraceID: tenant, Source: source},
		}
		checkEvent(t, prev, e)
		e.Time = e.Time.Truncate(time.Microsecond).Add(time.Duration(version % 1000))
		checkEvent(t, prev, e)
	})
}

func TestCanonicalEncodingRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	texts := []string{"", "a", "system:worker", "<script>&</script>", "\u2028\u2029", "\xff\xfe", "\x00\t\n\"\\", "é日本😀", "\x7f", "\ufffd"}
	pick := func() string {
		return texts[r.IntN(len(texts))] + texts[r.IntN(len(texts))]
	}
	times := []time.Time{
		time.Date(2026, 11, 28, 3, 0, 0, 123456000, time.UTC), time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("x", -3600)), {},
	}
	for range 5000 {
		var b strings.Builder
		randomJSON(r, &b, 0)
		e := Event{
			ID: pick(), StreamID: "request/" + pick(), Version: r.Int64N(1 << 40), Type: pick(), SchemaVersion: r.IntN(3) - 1,
			Time: times[r.IntN(len(times))], Data: []byte(b.String()),
			Meta: Meta{Actor: pick(), Tenant: pick(), CorrelationID: pick(), CausationID: pick(), TraceID: pick(), Source: pick()},
		}
		checkEvent(t, pick(), e)
	}
}

// TestPrepareSizeLimit checks that Prepare accepts and rejects exactly at
// len(Encode(e)) == MaxEventSize, for data whose encoded size differs from
// its raw size (whitespace dropped, HTML characters and U+2028 escaped).
func TestPrepareSizeLimit(t *testing.T) {
	now := time.Date(2026, 11, 28, 3, 0, 0, 123456789, time.UTC)
	stream := RequestStream("size")
	for _, filler := range []string{"x", "<", "&", "\u2028", "é", `\n`} {
		for _, pad := range []string{"", " \n\t "} {
			mk := func(n int) Event {
				data := pad + `{ "action":"a", "owner":"u", "payload":"` + strings.Repeat(filler, n) + `" }` + pad
				return Event{ID: "id-1", Type: RequestSubmitted, Meta: Meta{Actor: "<u>"}, Data: []byte(data)}
			}
			size := func(n int) int {
				out, _, err := Prepare(stream, Head{}, []Event{mk(n)}, now.Add(-time.Hour)) // under the limit
				if err != nil {
					t.Fatal(err)
				}
				enc, err := Encode(out[0])
				if err != nil {
					t.Fatal(err)
				}
				return len(enc)
			}
			base, step := size(0), size(1)-size(0)
			n := (MaxEventSize - base) / step
			for _, k := range []int{n - 1, n, n + 1, n + 2} {
				e := mk(k)
				out, _, err := Prepare(stream, Head{}, []Event{e}, now)
				encoded := base + k*step
				switch {
				case encoded <= MaxEventSize && err != nil:
					t.Fatalf("%q×%d (%d bytes encoded) rejected: %v", filler, k, encoded, err)
				case encoded > MaxEventSize && !errors.Is(err, ErrEventTooLarge):
					t.Fatalf("%q×%d (%d bytes encoded) not rejected: %v", filler, k, encoded, err)
				case err != nil && !strings.Contains(err.Error(), fmt.Sprintf("is %d bytes encoded", encoded)):
					t.Fatalf("error %q does not give the size %d", err, encoded)
				case err == nil:
					if enc, _ := Encode(out[0]); len(enc) != encoded {
						t.Fatalf("size %d, Encode gives %d", encoded, len(enc))
					}
				}
			}
		}
	}
}

// referencePrepare is the original Prepare, verbatim but for hashing with
// the reference implementation and measuring with Encode.
func referencePrepare(stream string, head Head, evs []Event, now time.Time) ([]Event, []State, error) {
	kind, _, err := ParseStream(stream)
	if err != nil {
		return nil, nil, err
	}
	if len(evs) == 0 {
		return nil, nil, invalid("append needs at least one event")
	}
	if len(evs) > MaxAppendEvents {
		return nil, nil, fmt.Errorf("%w: %d events, at most %d", ErrTooManyEvents, len(evs), MaxAppendEvents)
	}
	ts := stampTime(now)
	out := make([]Event, len(evs))
	states := make([]State, len(evs))
	state, prev, version := head.State, head.Hash, head.Version
	total := 0
	for i, in := range evs {
		version++
		e := in
		e.StreamID, e.Version, e.Time, e.PrevHash, e.Hash = stream, version, ts, prev, ""
		if e.ID == "" {
			e.ID = NewID()
		}
		if e.SchemaVersion == 0 {
			e.SchemaVersion = CurrentSchema(e.Type)
		}
		if err := checkTypeAndStream(stream, e.Type); err != nil {
			return nil, nil, err
		}
		if e.SchemaVersion < 1 || e.SchemaVersion > CurrentSchema(e.Type) {
			return nil, nil, invalid("%s: schema version %d not in 1..%d", e.Type, e.SchemaVersion, CurrentSchema(e.Type))
		}
		if err := checkObject(e.Data); err != nil {
			return nil, nil, fmt.Errorf("%s at version %d: %w", e.Type, version, err)
		}
		if err := checkUTF8(e); err != nil {
			return nil, nil, fmt.Errorf("%s at version %d: %w", e.Type, version, err)
		}
		payload, err := DecodePayload(e)
		if err != nil {
			return nil, nil, fmt.Errorf("%s at version %d: %w", e.Type, version, err)
		}
		next, terr := transition(kind, state, e.Type, payload)
		if terr != nil {
			terr.Stream, terr.Version, terr.Type, terr.Status = stream, version, e.Type, state.Status
			return nil, nil, terr
		}
		if e.Hash, err = referenceComputeHash(prev, e); err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
		}
		enc, err := Encode(e)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
		}
		if len(enc) > MaxEventSize {
			return nil, nil, fmt.Errorf("%w: %s at version %d is %d bytes encoded, the limit is %d (DynamoDB's 400 KB item limit less bookkeeping)",
				ErrEventTooLarge, e.Type, version, len(enc), MaxEventSize)
		}
		if total += len(enc); total > MaxAppendSize {
			return nil, nil, fmt.Errorf("%w: the events of one append exceed %d bytes encoded (DynamoDB's 4 MB transaction limit)", ErrEventTooLarge, MaxAppendSize)
		}
		out[i], states[i] = e, next
		state, prev = next, e.Hash
	}
	return out, states, nil
}

func referenceComputeHash(prevHash string, e Event) (string, error) {
	c, err := referenceCanonicalEncoding(e)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(append([]byte(prevHash+"\n"), c...))
	return hex.EncodeToString(sum[:]), nil
}

// TestPrepareMatchesReference runs random appends through Prepare and the
// original implementation: same events, states and errors, including data
// that json.Valid takes after trimming but the decoders refuse, and batches
// near the size limits.
func TestPrepareMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var odd bool // whether this batch has odd (often invalid) values
	rare := func(common string, oddities ...string) string {
		if odd && r.IntN(10) == 0 {
			return oddities[r.IntN(len(oddities))]
		}
		return common
	}
	// "<é>" is 4 bytes of data and 14 encoded: the data of a progress
	// event with a message of 27,800 of them is just under MaxEventSize.
	big := strings.Repeat("<é>", 32_000)
	running := Head{Version: 2, Hash: strings.Repeat("cd", 32), State: State{Status: StatusRunning, Attempt: 1}}
	now := time.Date(2026, 11, 28, 3, 0, 0, 123456789, time.UTC)
	outcomes := map[string]int{}
	for i := range 400 {
		n := 1 + r.IntN(20)
		bulk := i%40 == 0 // about as many events near the size limit as fit in one append
		odd = !bulk && r.IntN(3) == 0
		if bulk {
			n = 10 + i/40%3
		}
		evs := make([]Event, n)
		for j := range evs {
			var b strings.Builder
			randomJSON(r, &b, 1)
			meta, msg := strings.ReplaceAll(b.String(), "1e400", "1e40"), ""
			if !utf8.ValidString(meta) {
				meta = rare("null", meta)
			}
			switch {
			case bulk:
				msg = big[:4*(26_000+r.IntN(2_000))]
			case r.IntN(25) == 0:
				msg = big[:4*(26_000+r.IntN(6_000))]
			}
			typ := RequestProgressed
			data := fmt.Sprintf(`{"percentage":%d,"message":"%s","metadata":{"x":%s}}`, 5*j, msg, meta)
			switch {
			case !bulk && r.IntN(10) == 0:
				data = fmt.Sprintf(`{"status":"s","percent":%d}`, 5*j)
				evs[j].SchemaVersion = 1
			case j == n-1 && r.IntN(3) == 0:
				typ, data = RequestFailed, `{"code":"c","message":"`+rare("m", "\\u2028", "<&>")+`","retryable":true}`
			}
			evs[j].ID = fmt.Sprintf("id-%d-%d%s", i, j, rare("", "\xff", "<&>"))
			evs[j].Type = typ
			evs[j].Data = []byte(rare("", " ", "\n\t", "\v", "\u00a0", "x") + data + rare("", " ", "\n\t", "\v", "\u00a0", "x", "}"))
			evs[j].Meta = Meta{Actor: rare("worker", "", "\xff", "\u2028"), Source: rare("", "<&>", "\x00\"\\")}
		}
		out, states, err := Prepare(RequestStream("p"), running, evs, now)
		wantOut, wantStates, wantErr := referencePrepare(RequestStream("p"), running, evs, now)
		if fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Fatalf("batch %d: Prepare error %v, want %v", i, err, wantErr)
		}
		if !reflect.DeepEqual(out, wantOut) || !reflect.DeepEqual(states, wantStates) {
			t.Fatalf("batch %d: Prepare gives\n%+v\nwant\n%+v", i, out, wantOut)
		}
		switch {
		case err == nil:
			outcomes["ok"]++
		case strings.Contains(err.Error(), "events of one append exceed"):
			outcomes["append too large"]++
		case errors.Is(err, ErrEventTooLarge):
			outcomes["event too large"]++
		default:
			outcomes["invalid"]++
		}
	}
	// The comparison means something only if every outcome is common.
	for o, least := range map[string]int{"ok": 100, "event too large": 20, "append too large": 4, "invalid": 50} {
		if outcomes[o] < least {
			t.Fatalf("outcomes %v: too few %q", outcomes, o)
		}
	}
	t.Logf("outcomes: %v", outcomes)
}

func TestJSONStringEncoders(t *testing.T) {
	var all []byte
	for b := range 256 {
		all = append(all, byte(b))
	}
	cases := []string{"", "plain", string(all), "\u2028\u2029", "é日本😀", "\xed\xa0\x80", "\xe2\x80", "a\xe2\x80\xa8b", "\ufffd"}
	for _, s := range cases {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s, true); !bytes.Equal(got, want) {
			t.Errorf("appendJSONString(%q, true) = %q, want %q", s, got, want)
		}
		if n := jsonStringLen(s); n != len(want) {
			t.Errorf("jsonStringLen(%q) = %d, want %d", s, n, len(want))
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.Encode(s)
		if got := appendJSONString(nil, []byte(s), false); !bytes.Equal(got, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))) {
			t.Errorf("appendJSONString(%q, false) = %q, want %q", s, got, buf.Bytes())
		}
	}
	for r := rune(0); r <= utf8.MaxRune; r += 7 {
		s := string(r)
		if want, _ := json.Marshal(s); !bytes.Equal(appendJSONString(nil, s, true), want) || jsonStringLen(s) != len(want) {
			t.Fatalf("rune %U encodes differently", r)
		}
	}
}

func benchProgressEvents(n int) []Event {
	evs := make([]Event, n)
	for i := range evs {
		evs[i] = MustNew(RequestProgressed, Progress{Percentage: 50, Message: "processing chunk"},
			Meta{Actor: "system:worker", Tenant: "t1", CorrelationID: "corr-0001", Source: "processor"})
	}
	return evs
}

// BenchmarkPrepare prepares a batch of 100 progress events on a running
// request, as the store benchmarks append them; "reference" is the original
// implementation (encoding/json canonicalization and Encode for the size).
func BenchmarkPrepare(b *testing.B) {
	evs := benchProgressEvents(100)
	head := Head{Version: 2, Hash: strings.Repeat("ab", 32), State: State{Status: StatusRunning, Attempt: 1}}
	now := time.Now()
	for _, impl := range []struct {
		name    string
		prepare func(string, Head, []Event, time.Time) ([]Event, []State, error)
	}{{"batch100", Prepare}, {"batch100-reference", referencePrepare}} {
		b.Run(impl.name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := impl.prepare(RequestStream("bench"), head, evs, now); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
		})
	}
}

func BenchmarkCanonicalJSON(b *testing.B) {
	for _, c := range []struct{ name, data string }{
		{"progress", `{"percentage":50,"message":"processing chunk"}`},
		{"nested", `{"action":"generate_report","owner":"u1","tenant":"t1","payload":{"range":{"to":"2026-11-30","from":"2026-11-01"},` +
			`"columns":["id","name","total"],"filters":[{"op":"eq","field":"status","value":"paid"}],"limit":1000,"note":"caf\u00e9 <b>"}}`},
	} {
		b.Run(c.name, func(b *testing.B) {
			data := []byte(c.data)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := canonicalJSON(data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"-reference", func(b *testing.B) {
			data := []byte(c.data)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := referenceCanonicalJSON(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
