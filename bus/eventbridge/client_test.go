package eventbridge_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/streamer/streamer/bus"
	"github.com/streamer/streamer/bus/eventbridge"
	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/internal/awsrest"
)

const (
	testKeyID  = "AKIDTEST"
	testSecret = "secret-test"
	testRegion = "eu-west-1"
)

// testConfig is an SDK configuration with static credentials whose base
// endpoint is url.
func testConfig(url string) aws.Config {
	return aws.Config{
		Region:       testRegion,
		Credentials:  credentials.NewStaticCredentialsProvider(testKeyID, testSecret, ""),
		BaseEndpoint: aws.String(url),
	}
}

// request is a PutEvents request as a server received it.
type request struct {
	Method, Path, Target, ContentType string
	Body                              []byte
	SignatureErr                      error
}

// recorder is an HTTP server that records every request and answers with
// answer(request number, entries of the request).
type recorder struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []request
	answer func(n int, body []byte) (status int, header http.Header, respBody string)
}

func newRecorder(t *testing.T, answer func(n int, body []byte) (int, http.Header, string)) *recorder {
	rec := &recorder{answer: answer}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rec.mu.Lock()
		n := len(rec.reqs)
		rec.reqs = append(rec.reqs, request{
			Method: r.Method, Path: r.URL.Path, Target: r.Header.Get("X-Amz-Target"),
			ContentType: r.Header.Get("Content-Type"), Body: body, SignatureErr: verifySignature(r, body),
		})
		rec.mu.Unlock()
		status, header, resp := rec.answer(n, body)
		for k, vs := range header {
			w.Header()[k] = vs
		}
		w.WriteHeader(status)
		io.WriteString(w, resp)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (rec *recorder) requests() []request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]request(nil), rec.reqs...)
}

// verifySignature signs a copy of r's signed headers again with the test
// credentials at r's X-Amz-Date and compares the Authorization headers.
func verifySignature(r *http.Request, body []byte) error {
	auth := r.Header.Get("Authorization")
	_, signed, ok := strings.Cut(auth, "SignedHeaders=")
	if !ok {
		return fmt.Errorf("authorization %q has no SignedHeaders", auth)
	}
	signed, _, _ = strings.Cut(signed, ",")
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return fmt.Errorf("x-amz-date: %w", err)
	}
	req, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.ContentLength = r.ContentLength
	for _, h := range strings.Split(signed, ";") {
		if h != "host" && h != "content-length" {
			req.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), eventbridge.SigningName, testRegion, at); err != nil {
		return err
	}
	if got := req.Header.Get("Authorization"); got != auth {
		return fmt.Errorf("signature mismatch:\n got %s\nwant %s", auth, got)
	}
	for _, h := range []string{"host", "x-amz-date", "x-amz-target", "content-type"} {
		if !strings.Contains(";"+signed+";", ";"+h+";") {
			return fmt.Errorf("header %s is not signed (%s)", h, signed)
		}
	}
	return nil
}

// accept answers every entry of a PutEvents request with an event ID,
// except those whose detail contains "reject", answered with an
// InvalidArgument error, as EventBridge does.
func accept(n int, body []byte) (int, http.Header, string) {
	var req struct{ Entries []struct{ Detail string } }
	if err := json.Unmarshal(body, &req); err != nil {
		return 400, nil, `{"__type":"SerializationException"}`
	}
	type result struct {
		EventId      string `json:",omitempty"`
		ErrorCode    string `json:",omitempty"`
		ErrorMessage string `json:",omitempty"`
	}
	var resp struct {
		FailedEntryCount int
		Entries          []result
	}
	for i, e := range req.Entries {
		if strings.Contains(e.Detail, "reject") {
			resp.FailedEntryCount++
			resp.Entries = append(resp.Entries, result{ErrorCode: "InvalidArgument", ErrorMessage: "Parameter Detail is not valid."})
			continue
		}
		resp.Entries = append(resp.Entries, result{EventId: fmt.Sprintf("ev-%d-%d", n, i)})
	}
	b, _ := json.Marshal(resp)
	return 200, http.Header{"Content-Type": {eventbridge.ContentType}}, string(b)
}

func newTestClient(t *testing.T, cfg aws.Config) *eventbridge.Client {
	t.Helper()
	c, err := eventbridge.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestClientSendsPutEvents: one signed POST to the endpoint root with the
// JSON 1.1 target and content type, the body as the SDK writes it, and the
// answer decoded in order.
func TestClientSendsPutEvents(t *testing.T) {
	rec := newRecorder(t, accept)
	c := newTestClient(t, testConfig(rec.URL))
	at := time.Date(2024, 5, 6, 7, 8, 9, 123_987_000, time.UTC)
	got, err := c.PutEvents(context.Background(), []eventbridge.Entry{
		{Source: "streamer", DetailType: "request.completed", Detail: `{"a":"<b>&"}`, EventBusName: "bus", Time: at},
		{Source: "streamer", DetailType: "request.failed", Detail: `{"reject":true}`, Resources: []string{"arn:aws:x:1"}, TraceHeader: "Root=1-abc"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []eventbridge.ResultEntry{
		{EventID: "ev-0-0"},
		{ErrorCode: "InvalidArgument", ErrorMessage: "Parameter Detail is not valid."},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || got[0].Failed() || !got[1].Failed() {
		t.Fatalf("results %+v, want %+v", got, want)
	}
	reqs := rec.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != "/" || r.Target != "AWSEvents.PutEvents" || r.ContentType != "application/x-amz-json-1.1" {
		t.Fatalf("request %s %s target %q content type %q", r.Method, r.Path, r.Target, r.ContentType)
	}
	if r.SignatureErr != nil {
		t.Fatalf("signature: %v", r.SignatureErr)
	}
	const wantBody = `{"Entries":[` +
		`{"Detail":"{\"a\":\"<b>&\"}","DetailType":"request.completed","EventBusName":"bus","Source":"streamer","Time":1714979289.123},` +
		`{"Detail":"{\"reject\":true}","DetailType":"request.failed","Resources":["arn:aws:x:1"],"Source":"streamer","TraceHeader":"Root=1-abc"}]}`
	if string(r.Body) != wantBody {
		t.Fatalf("body\n%s\nwant\n%s", r.Body, wantBody)
	}
}

// TestClientErrorResponses: JSON 1.1 error responses become
// *awsrest.APIError with the code and message; throttling and server
// faults are retryable, other client errors permanent.
func TestClientErrorResponses(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		header    http.Header
		body      string
		code      string
		message   string
		retryable bool
	}{
		{"throttling", 400, nil, `{"__type":"ThrottlingException","message":"Rate exceeded"}`, "ThrottlingException", "Rate exceeded", true},
		{"limit exceeded", 400, nil, `{"__type":"LimitExceededException","message":"too many"}`, "LimitExceededException", "too many", true},
		{"request limit", 400, nil, `{"__type":"RequestLimitExceeded"}`, "RequestLimitExceeded", "", true},
		{"too many requests", 400, nil, `{"__type":"TooManyRequestsException"}`, "TooManyRequestsException", "", true},
		{"429 without a code", 429, nil, ``, "", "", true},
		{"throttling in the header", 400, http.Header{"X-Amzn-Errortype": {"ThrottlingException:http://internal.amazon.com/coral/"}}, `{}`, "ThrottlingException", "", true},
		{"internal error", 500, nil, `{"__type":"InternalException","message":"oops"}`, "InternalException", "oops", true},
		{"unavailable, not JSON", 503, nil, `<html>Service Unavailable</html>`, "", "", true},
		{"validation", 400, nil, `{"__type":"ValidationException","message":"1 validation error detected"}`, "ValidationException", "1 validation error detected", false},
		{"namespaced code", 400, nil, `{"__type":"com.amazonaws.events#ResourceNotFoundException","Message":"Event bus x does not exist."}`, "ResourceNotFoundException", "Event bus x does not exist.", false},
		{"access denied", 403, nil, `{"__type":"AccessDeniedException","Message":"not authorized"}`, "AccessDeniedException", "not authorized", false},
		{"bad signature", 403, nil, `{"__type":"InvalidSignatureException","message":"Signature expired"}`, "InvalidSignatureException", "Signature expired", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, func(int, []byte) (int, http.Header, string) {
				h := http.Header{"Content-Type": {eventbridge.ContentType}, "X-Amzn-Requestid": {"req-1"}}
				for k, v := range tc.header {
					h[k] = v
				}
				return tc.status, h, tc.body
			})
			_, err := newTestClient(t, testConfig(rec.URL)).PutEvents(context.Background(), []eventbridge.Entry{{Source: "s", DetailType: "t", Detail: "{}"}})
			var api *awsrest.APIError
			if !errors.As(err, &api) {
				t.Fatalf("error %v (%T), want an *awsrest.APIError", err, err)
			}
			if api.StatusCode != tc.status || api.Code != tc.code || api.Message != tc.message || api.RequestID != "req-1" {
				t.Fatalf("error %+v, want status %d code %q message %q", api, tc.status, tc.code, tc.message)
			}
			if got := eventbridge.Retryable(err); got != tc.retryable {
				t.Fatalf("Retryable(%v) = %v, want %v", err, got, tc.retryable)
			}
		})
	}
}

// TestClientFailuresWithoutResponse: a connection closed without an answer
// is a retryable *awsrest.SendError; a cancelled call is not retryable; a
// 2xx answer that does not decode is a retryable ErrBadResponse.
func TestClientFailuresWithoutResponse(t *testing.T) {
	entries := []eventbridge.Entry{{Source: "s", DetailType: "t", Detail: "{}"}}
	t.Run("connection closed", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		}))
		defer srv.Close()
		_, err := newTestClient(t, testConfig(srv.URL)).PutEvents(context.Background(), entries)
		var send *awsrest.SendError
		if !errors.As(err, &send) || !eventbridge.Retryable(err) {
			t.Fatalf("error %v (%T): want a retryable *awsrest.SendError", err, err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(release)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		_, err := newTestClient(t, testConfig(srv.URL)).PutEvents(ctx, entries)
		if !errors.Is(err, context.Canceled) || eventbridge.Retryable(err) {
			t.Fatalf("error %v: want context.Canceled, not retryable", err)
		}
	})
	t.Run("malformed 200", func(t *testing.T) {
		rec := newRecorder(t, func(int, []byte) (int, http.Header, string) { return 200, nil, `{"Entries":[{"EventId":1}]}` })
		_, err := newTestClient(t, testConfig(rec.URL)).PutEvents(context.Background(), entries)
		if !errors.Is(err, eventbridge.ErrBadResponse) || !eventbridge.Retryable(err) {
			t.Fatalf("error %v: want a retryable ErrBadResponse", err)
		}
	})
	t.Run("no entries", func(t *testing.T) {
		rec := newRecorder(t, accept)
		res, err := newTestClient(t, testConfig(rec.URL)).PutEvents(context.Background(), nil)
		if err != nil || res != nil || len(rec.requests()) != 0 {
			t.Fatalf("%v, %v, %d requests: want nothing sent", res, err, len(rec.requests()))
		}
	})
}

// TestPublisherOverHTTPErrors: the Publisher, over the HTTP client, retries
// server faults and throttling and gives up at once on a permanent error.
func TestPublisherOverHTTPErrors(t *testing.T) {
	evs := []events.Event{
		events.MustNew(events.RequestStarted, events.Started{Attempt: 1}, events.Meta{}),
		events.MustNew(events.RequestStarted, events.Started{Attempt: 2}, events.Meta{}),
	}
	for i := range evs {
		evs[i].ID, evs[i].StreamID, evs[i].Version = events.NewID(), events.RequestStream(events.NewID()), 1
	}
	for _, tc := range []struct {
		name      string
		failFirst int // the first failFirst calls get the error response
		status    int
		body      string
		calls     int // calls expected in all
		published bool
	}{
		{"server faults then success", 2, 500, `{"__type":"InternalException","message":"oops"}`, 3, true},
		{"throttled then success", 1, 400, `{"__type":"ThrottlingException","message":"Rate exceeded"}`, 2, true},
		{"throttled past the retries", 100, 400, `{"__type":"ThrottlingException","message":"Rate exceeded"}`, 4, false},
		{"validation error", 100, 400, `{"__type":"ValidationException","message":"bad"}`, 1, false},
		{"unknown bus", 100, 400, `{"__type":"ResourceNotFoundException","message":"Event bus x does not exist."}`, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t, func(n int, body []byte) (int, http.Header, string) {
				if n < tc.failFirst {
					return tc.status, http.Header{"Content-Type": {eventbridge.ContentType}}, tc.body
				}
				return accept(n, body)
			})
			pub, err := eventbridge.New(newTestClient(t, testConfig(rec.URL)), eventbridge.Config{BusName: "b", Retries: 3, Backoff: fastBackoff})
			if err != nil {
				t.Fatal(err)
			}
			err = pub.Publish(context.Background(), evs)
			if got := len(rec.requests()); got != tc.calls {
				t.Fatalf("%d calls, want %d (error %v)", got, tc.calls, err)
			}
			if tc.published {
				if err != nil {
					t.Fatalf("publish: %v", err)
				}
				return
			}
			var pe *bus.PublishError
			var api *awsrest.APIError
			if !errors.As(err, &pe) || len(pe.Failed) != len(evs) || !errors.As(err, &api) || api.StatusCode != tc.status {
				t.Fatalf("error %v: want every event failed with the HTTP %d error", err, tc.status)
			}
		})
	}
}

func TestNewClient(t *testing.T) {
	creds := credentials.NewStaticCredentialsProvider("a", "b", "")
	for _, tc := range []struct {
		name     string
		cfg      aws.Config
		endpoint string
		errs     []string
	}{
		{"region", aws.Config{Region: "eu-west-1", Credentials: creds}, "https://events.eu-west-1.amazonaws.com/", nil},
		{"china", aws.Config{Region: "cn-north-1", Credentials: creds}, "https://events.cn-north-1.amazonaws.com.cn/", nil},
		{"base endpoint", aws.Config{Region: "us-east-1", Credentials: creds, BaseEndpoint: aws.String("http://127.0.0.1:5000")}, "http://127.0.0.1:5000/", nil},
		{"base endpoint with a path", aws.Config{Region: "us-east-1", Credentials: creds, BaseEndpoint: aws.String("https://proxy.example/events")}, "https://proxy.example/events", nil},
		{"nothing", aws.Config{}, "", []string{"region", "credentials"}},
		{"bad region", aws.Config{Region: "eu west", Credentials: creds}, "", []string{"region"}},
		{"bad base endpoint", aws.Config{Region: "us-east-1", Credentials: creds, BaseEndpoint: aws.String("localhost:5000")}, "", []string{"base endpoint"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := eventbridge.NewClient(tc.cfg)
			if tc.errs == nil {
				if err != nil || c.Endpoint() != tc.endpoint {
					t.Fatalf("endpoint %v, %v; want %s", c, err, tc.endpoint)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; endpoint %s", c.Endpoint())
			}
			for _, want := range tc.errs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %v does not mention %s", err, want)
				}
			}
		})
	}
}
