package eventbridge_test

// Differential tests: the same PutEvents calls through the SDK's own
// eventbridge.Client and through ours must produce the same request (target,
// content type, and a body equal once decoded), decode the same responses
// to the same results and errors, and, through moto, deliver the same
// events to an SQS target.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awseventbridge "github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"

	"github.com/streamer/streamer/bus/eventbridge"
	"github.com/streamer/streamer/internal/awsrest"
)

// newSDKClient is the SDK's client for cfg with its retries off.
func newSDKClient(cfg aws.Config) *awseventbridge.Client {
	return awseventbridge.NewFromConfig(cfg, func(o *awseventbridge.Options) { o.RetryMaxAttempts = 1 })
}

// sdkEntries are entries as SDK input: empty members nil, as our client
// leaves them out.
func sdkEntries(entries []eventbridge.Entry) []ebtypes.PutEventsRequestEntry {
	str := func(s string) *string {
		if s == "" {
			return nil
		}
		return aws.String(s)
	}
	out := make([]ebtypes.PutEventsRequestEntry, len(entries))
	for i, e := range entries {
		out[i] = ebtypes.PutEventsRequestEntry{
			Source: str(e.Source), DetailType: str(e.DetailType), Detail: str(e.Detail),
			EventBusName: str(e.EventBusName), TraceHeader: str(e.TraceHeader),
		}
		if len(e.Resources) > 0 {
			out[i].Resources = e.Resources
		}
		if !e.Time.IsZero() {
			out[i].Time = aws.Time(e.Time)
		}
	}
	return out
}

// sdkResults are the SDK's result entries as ours.
func sdkResults(out *awseventbridge.PutEventsOutput) []eventbridge.ResultEntry {
	if out == nil || out.Entries == nil {
		return nil
	}
	res := make([]eventbridge.ResultEntry, len(out.Entries))
	for i, e := range out.Entries {
		res[i] = eventbridge.ResultEntry{EventID: aws.ToString(e.EventId), ErrorCode: aws.ToString(e.ErrorCode), ErrorMessage: aws.ToString(e.ErrorMessage)}
	}
	return res
}

// decodeJSON decodes a body keeping numbers as written.
func decodeJSON(t testing.TB, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("body %q is not JSON: %v", b, err)
	}
	return v
}

// differentialEntries are the request cases: every member of an entry,
// strings that need escaping, and times the SDK writes with care.
var differentialEntries = map[string][]eventbridge.Entry{
	"publisher entries": {
		{Source: "streamer", DetailType: "request.submitted", Detail: `{"id":"01J","stream":"request-1","version":1,"data":{"action":"echo"}}`, EventBusName: "streamer", Time: time.Date(2025, 1, 2, 3, 4, 5, 678_901_234, time.UTC)},
		{Source: "streamer", DetailType: "request.completed", Detail: `{"id":"01K","ref":{"stream":"request-1","version":2}}`, EventBusName: "arn:aws:events:eu-west-1:123456789012:event-bus/streamer", Time: time.Date(2025, 1, 2, 3, 4, 6, 0, time.FixedZone("x", 3600))},
	},
	"every member": {
		{Source: "s", DetailType: "d", Detail: `{}`, EventBusName: "b", Time: time.Unix(1, 0), Resources: []string{"arn:aws:a", "arn:aws:b"}, TraceHeader: "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"},
	},
	"empty members left out": {
		{Detail: `{"only":"detail"}`},
		{Source: "s"},
		{},
	},
	"escaping": {
		{Source: "a<b>&c", DetailType: "quote\" backslash\\ slash/", Detail: "{\"ctl\":\"\\u0001 \t \n \r\",\"raw\":\"\u2028\u2029 é 日本 \U0001F600 \x7f\"}"},
		{Source: "\x00\x1f", DetailType: "tab\there", Detail: `{"html":"<script>&amp;</script>"}`},
	},
	"times": {
		{Source: "s", Time: time.Unix(0, 1)},
		{Source: "s", Time: time.Unix(-1, 999_999_999)},
		{Source: "s", Time: time.Unix(-1, 500_000)},
		{Source: "s", Time: time.Unix(-86400*365*100, 123_400_000)},
		{Source: "s", Time: time.Unix(4102444800, 999_999_999)},
		{Source: "s", Time: time.Unix(1700000000, 100_000_000)},
	},
}

// capture is an aws.HTTPClient that keeps the request and answers with a
// fixed response, without a network.
type capture struct {
	req    *http.Request
	body   []byte
	status int
	header http.Header
	resp   string
}

func (c *capture) Do(r *http.Request) (*http.Response, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	c.req, c.body = r, b
	h := c.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	return &http.Response{
		StatusCode: c.status, Header: h, Body: io.NopCloser(strings.NewReader(c.resp)),
		ContentLength: int64(len(c.resp)), Request: r,
	}, nil
}

// bothSend sends entries through the SDK client and through ours, each
// over its own capture answering status/header/resp.
func bothSend(t testing.TB, entries []eventbridge.Entry, status int, header http.Header, resp string) (sdk, ours *capture, sdkOut *awseventbridge.PutEventsOutput, sdkErr error, ourOut []eventbridge.ResultEntry, ourErr error) {
	t.Helper()
	sdk = &capture{status: status, header: header, resp: resp}
	ours = &capture{status: status, header: header, resp: resp}
	cfg := testConfig("https://events.test.invalid")
	cfg.HTTPClient = sdk
	sdkOut, sdkErr = newSDKClient(cfg).PutEvents(context.Background(), &awseventbridge.PutEventsInput{Entries: sdkEntries(entries)})
	cfg.HTTPClient = ours
	c, err := eventbridge.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ourOut, ourErr = c.PutEvents(context.Background(), entries)
	return
}

// sameRequest fails t unless both captured the same request: method, URL,
// X-Amz-Target, Content-Type and a body equal once decoded (numbers as
// written). It reports whether the bodies are also byte-identical.
func sameRequest(t testing.TB, sdk, ours *capture) (identical bool) {
	t.Helper()
	if sdk.req == nil || ours.req == nil {
		t.Fatalf("a request was not sent: sdk %v, ours %v", sdk.req != nil, ours.req != nil)
	}
	if sdk.req.Method != ours.req.Method || sdk.req.URL.String() != ours.req.URL.String() {
		t.Fatalf("request %s %s, the SDK's %s %s", ours.req.Method, ours.req.URL, sdk.req.Method, sdk.req.URL)
	}
	for _, h := range []string{"X-Amz-Target", "Content-Type"} {
		if got, want := ours.req.Header.Get(h), sdk.req.Header.Get(h); got != want {
			t.Fatalf("%s %q, the SDK's %q", h, got, want)
		}
	}
	if got, want := decodeJSON(t, ours.body), decodeJSON(t, sdk.body); !reflect.DeepEqual(got, want) {
		t.Fatalf("bodies differ in meaning:\n ours %s\n  sdk %s", ours.body, sdk.body)
	}
	return bytes.Equal(sdk.body, ours.body)
}

// TestDifferentialRequests: for every case the request our client sends is
// the SDK's: same method, URL, target and content type, and a JSON body
// equal once decoded (member names, omitted members, escaping, Time in
// epoch seconds with the SDK's millisecond rounding).
func TestDifferentialRequests(t *testing.T) {
	for name, entries := range differentialEntries {
		t.Run(name, func(t *testing.T) {
			resp := `{"FailedEntryCount":0,"Entries":[` + strings.Repeat(`{"EventId":"x"},`, len(entries)-1) + `{"EventId":"x"}]}`
			sdk, ours, _, sdkErr, _, ourErr := bothSend(t, entries, 200, nil, resp)
			if sdkErr != nil || ourErr != nil {
				t.Fatalf("sdk: %v, ours: %v", sdkErr, ourErr)
			}
			if sameRequest(t, sdk, ours) {
				t.Logf("byte-identical body (%d bytes)", len(ours.body))
			} else {
				t.Logf("bodies equal in meaning, not in bytes:\n ours %s\n  sdk %s", ours.body, sdk.body)
			}
		})
	}
}

// TestDifferentialResponses: the same 200 answers decode to the same
// results through both clients (unknown and null members ignored, missing
// entries, an empty body).
func TestDifferentialResponses(t *testing.T) {
	entries := differentialEntries["publisher entries"]
	for _, tc := range []struct{ name, body string }{
		{"all accepted", `{"FailedEntryCount":0,"Entries":[{"EventId":"11710aed-b79e-4468-a20b-bb3c0c3b4860"},{"EventId":"d804d26a-88db-4b66-9eaf-9a11c708ae82"}]}`},
		{"partial failure", `{"FailedEntryCount":1,"Entries":[{"EventId":"e1"},{"ErrorCode":"InternalFailure","ErrorMessage":"Internal Service Failure"}]}`},
		{"unknown and null members", `{"Entries":[{"EventId":"e1","Extra":{"a":[1,2]}},{"EventId":null,"ErrorCode":"ThrottlingException","ErrorMessage":null}],"FailedEntryCount":1,"Other":true}`},
		{"fewer entries", `{"FailedEntryCount":0,"Entries":[{"EventId":"e1"}]}`},
		{"no entries member", `{"FailedEntryCount":0}`},
		{"empty object", `{}`},
		{"empty body", ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, sdkOut, sdkErr, ourOut, ourErr := bothSend(t, entries, 200, http.Header{"Content-Type": {eventbridge.ContentType}}, tc.body)
			if sdkErr != nil || ourErr != nil {
				t.Fatalf("sdk: %v, ours: %v", sdkErr, ourErr)
			}
			if want := sdkResults(sdkOut); !reflect.DeepEqual(ourOut, want) {
				t.Fatalf("results %+v, the SDK's %+v", ourOut, want)
			}
		})
	}
}

// TestDifferentialErrors: error responses give the same code and message
// through both clients, and our Retryable agrees with the fault the SDK
// sees (a modelled server fault or 5xx retryable, throttling retryable,
// other client errors permanent).
func TestDifferentialErrors(t *testing.T) {
	entries := differentialEntries["every member"]
	for _, tc := range []struct {
		name      string
		status    int
		header    http.Header
		body      string
		retryable bool
	}{
		{"throttling", 400, nil, `{"__type":"ThrottlingException","message":"Rate exceeded"}`, true},
		{"namespaced throttling", 400, nil, `{"__type":"com.amazonaws.events#ThrottlingException","message":"Rate exceeded"}`, true},
		{"header code", 400, http.Header{"X-Amzn-Errortype": {"LimitExceededException:http://internal.amazon.com/coral/com.amazon.coral.availability/"}}, `{"message":"slow down"}`, true},
		{"modelled server fault", 500, nil, `{"__type":"InternalException","message":"oops"}`, true},
		{"unmodelled 500", 500, nil, `{"__type":"InternalFailure","Message":"We encountered an internal error."}`, true},
		{"validation", 400, nil, `{"__type":"ValidationException","message":"1 validation error detected"}`, false},
		{"modelled client error", 400, nil, `{"__type":"ResourceNotFoundException","message":"Event bus nope does not exist."}`, false},
		{"code member", 400, nil, `{"code":"AccessDeniedException","Message":"User is not authorized"}`, false},
		{"code with suffix", 400, nil, `{"__type":"aws.events#ConcurrentModificationException:http://x/"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, sdkErr, _, ourErr := bothSend(t, entries, tc.status, tc.header, tc.body)
			var sdkAPI smithy.APIError
			var ours *awsrest.APIError
			if !errors.As(sdkErr, &sdkAPI) || !errors.As(ourErr, &ours) {
				t.Fatalf("sdk %v (%T), ours %v (%T): want API errors", sdkErr, sdkErr, ourErr, ourErr)
			}
			if ours.Code != sdkAPI.ErrorCode() || ours.Message != sdkAPI.ErrorMessage() {
				t.Fatalf("ours %q %q, the SDK's %q %q", ours.Code, ours.Message, sdkAPI.ErrorCode(), sdkAPI.ErrorMessage())
			}
			if got := eventbridge.Retryable(ourErr); got != tc.retryable {
				t.Fatalf("Retryable = %v, want %v", got, tc.retryable)
			}
			if tc.retryable == false && sdkAPI.ErrorFault() == smithy.FaultServer {
				t.Fatalf("the SDK sees a server fault that we call permanent")
			}
		})
	}
}

// FuzzRequestMatchesSDK: for any strings (valid UTF-8 or not) and any time
// the SDK can write (it computes milliseconds from UnixNano: years
// 1678–2262), our request body equals the SDK's once decoded.
func FuzzRequestMatchesSDK(f *testing.F) {
	for _, entries := range differentialEntries {
		for _, e := range entries {
			res := ""
			if len(e.Resources) > 0 {
				res = e.Resources[0]
			}
			f.Add(e.Source, e.DetailType, e.Detail, e.EventBusName, res, e.TraceHeader, e.Time.Unix(), int64(e.Time.Nanosecond()))
		}
	}
	f.Fuzz(func(t *testing.T, source, detailType, detail, busName, resource, trace string, sec, nsec int64) {
		e := eventbridge.Entry{Source: source, DetailType: detailType, Detail: detail, EventBusName: busName, TraceHeader: trace}
		if resource != "" {
			e.Resources = []string{resource, resource + "2"}
		}
		const maxSec = math.MaxInt64/int64(time.Second) - 1 // UnixNano stays in range
		if sec > -maxSec && sec < maxSec {
			e.Time = time.Unix(sec, nsec%int64(time.Second))
		}
		sdk, ours, _, sdkErr, _, ourErr := bothSend(t, []eventbridge.Entry{e}, 200, nil, `{"Entries":[{"EventId":"x"}]}`)
		if sdkErr != nil || ourErr != nil {
			t.Fatalf("sdk: %v, ours: %v", sdkErr, ourErr)
		}
		sameRequest(t, sdk, ours)
	})
}

// TestDifferentialThroughMoto: the same entries sent through the SDK client
// to one bus and through ours to another reach each bus's SQS target as
// the same events (all but the bus's own event ID).
func TestDifferentialThroughMoto(t *testing.T) {
	viaSDK := newTarget(t, `{"source":["streamer"]}`)
	viaOurs := newTarget(t, `{"source":["streamer"]}`)
	at := time.Date(2025, 3, 4, 5, 6, 7, 890_000_000, time.UTC)
	var entries []eventbridge.Entry
	for i, d := range []string{
		`{"id":"e1","n":1,"text":"plain"}`,
		`{"id":"e2","html":"<b>&amp;</b>","unicode":"é日本😀\u2028"}`,
		`{"id":"e3","nested":{"a":[1,2.5,true,null]}}`,
	} {
		entries = append(entries, eventbridge.Entry{Source: "streamer", DetailType: "request.progress", Detail: d, Time: at.Add(time.Duration(i) * time.Second)})
	}
	entries[2].Resources = []string{"arn:aws:states:us-east-1:123456789012:execution/x"}

	sdkIn := sdkEntries(entries)
	for i := range sdkIn {
		sdkIn[i].EventBusName = aws.String(viaSDK.bus)
	}
	out, err := sdkClient(t).PutEvents(context.Background(), &awseventbridge.PutEventsInput{Entries: sdkIn})
	if err != nil || out.FailedEntryCount != 0 {
		t.Fatalf("sdk put events: %v, %+v", err, out)
	}
	ours := append([]eventbridge.Entry(nil), entries...)
	for i := range ours {
		ours[i].EventBusName = viaOurs.bus
	}
	res, err := ebClient(t).PutEvents(context.Background(), ours)
	if err != nil {
		t.Fatalf("our put events: %v", err)
	}
	for i, r := range res {
		if r.Failed() || r.EventID == "" {
			t.Fatalf("entry %d: %+v", i, r)
		}
	}

	normalise := func(tg target) []string {
		var out []string
		for _, ev := range tg.received(t) {
			ev.ID = ""
			var detail any
			if err := json.Unmarshal(ev.Detail, &detail); err != nil {
				t.Fatalf("detail %s: %v", ev.Detail, err)
			}
			ev.Detail = nil
			b, err := json.Marshal(struct {
				Event  any
				Detail any
			}{ev, detail})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(b))
		}
		sort.Strings(out)
		return out
	}
	got, want := normalise(viaOurs), normalise(viaSDK)
	if len(want) != len(entries) {
		t.Fatalf("the SDK's entries delivered %d events, want %d", len(want), len(entries))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("deliveries differ:\n ours %s\n  sdk %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
	t.Logf("%d identical deliveries, e.g. %s", len(got), got[0])
}

// FuzzResponseMatchesSDK: a 200 body that both clients decode gives the
// same results, and our decoding fails only with ErrBadResponse. Known
// divergences, harmless for the Publisher (an error is retried): we refuse
// what is not one JSON value (the SDK ignores trailing data), and invalid
// UTF-8 in a string becomes U+FFFD per byte (the SDK keeps the bytes), so
// results are compared with that replacement applied to the SDK's.
func FuzzResponseMatchesSDK(f *testing.F) {
	f.Add(`{"FailedEntryCount":1,"Entries":[{"EventId":"e1"},{"ErrorCode":"InternalFailure","ErrorMessage":"Internal Service Failure"}]}`)
	f.Add(`{"Entries":[{"EventId":"e1","Extra":{"a":[1,2]}},{"EventId":null,"ErrorCode":"ThrottlingException","ErrorMessage":null}],"FailedEntryCount":1,"Other":true}`)
	f.Add(`{}`)
	f.Add(``)
	f.Fuzz(func(t *testing.T, body string) {
		_, _, sdkOut, sdkErr, ourOut, ourErr := bothSend(t, differentialEntries["every member"], 200, nil, body)
		if ourErr != nil && !errors.Is(ourErr, eventbridge.ErrBadResponse) {
			t.Fatalf("body %q: error %v, want ErrBadResponse", body, ourErr)
		}
		if sdkErr != nil || ourErr != nil {
			return
		}
		want := sdkResults(sdkOut)
		valid := func(s string) string { return string([]rune(s)) }
		for i, r := range want {
			want[i] = eventbridge.ResultEntry{EventID: valid(r.EventID), ErrorCode: valid(r.ErrorCode), ErrorMessage: valid(r.ErrorMessage)}
		}
		if !reflect.DeepEqual(ourOut, want) {
			t.Fatalf("body %q: results %+v, the SDK's %+v", body, ourOut, want)
		}
	})
}
