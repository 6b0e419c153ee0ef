package apigw_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamer/streamer/connections"
	"github.com/streamer/streamer/connections/apigw"
	"github.com/streamer/streamer/gateway"
	"github.com/streamer/streamer/gateway/gatewaytest"
	"github.com/streamer/streamer/internal/awsrest"
)

// op is one call of the Poster, for tests that check all three.
type op struct {
	name string
	call func(ctx context.Context, p *apigw.Poster, id string) error
}

var ops = []op{
	{"Post", func(ctx context.Context, p *apigw.Poster, id string) error { return p.Post(ctx, id, []byte("x")) }},
	{"Info", func(ctx context.Context, p *apigw.Poster, id string) error { _, err := p.Info(ctx, id); return err }},
	{"Disconnect", func(ctx context.Context, p *apigw.Poster, id string) error { return p.Disconnect(ctx, id) }},
}

// apiError returns the *awsrest.APIError err wraps, or fails.
func apiError(t *testing.T, err error) *awsrest.APIError {
	t.Helper()
	var ae *awsrest.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("%v does not wrap an *awsrest.APIError", err)
	}
	return ae
}

// TestGatewayErrors: what the Poster makes of the local gateway's
// refusals, and of failures with no answer.
func TestGatewayErrors(t *testing.T) {
	ctx := context.Background()
	srv := startLocal(t)
	c := srv.Dial(t, gatewaytest.DialOptions{})
	p := mustNew(t, localConfig(), srv.Endpoint)

	t.Run("wrong stage is forbidden", func(t *testing.T) {
		wrong := mustNew(t, localConfig(), srv.Endpoint+"/prod")
		for _, o := range ops {
			err := o.call(ctx, wrong, c.ID())
			if ae := apiError(t, err); ae.StatusCode != 403 || ae.Code != "ForbiddenException" {
				t.Fatalf("%s: %v, want a 403 ForbiddenException", o.name, err)
			}
			noSentinel(t, err)
		}
	})
	t.Run("gone wraps the API error", func(t *testing.T) {
		for _, o := range ops {
			err := o.call(ctx, p, "NoSuchConnection=")
			mustOnly(t, err, connections.ErrGone)
			if ae := apiError(t, err); ae.StatusCode != 410 || ae.Code != "GoneException" || ae.RequestID == "" {
				t.Fatalf("%s: %+v, want a 410 GoneException with a request ID", o.name, ae)
			}
		}
	})
	t.Run("too large wraps the API error", func(t *testing.T) {
		err := p.Post(ctx, c.ID(), make([]byte, gateway.DefaultMaxMessageSize+1))
		mustOnly(t, err, connections.ErrTooLarge)
		if ae := apiError(t, err); ae.StatusCode != 413 || ae.Code != "PayloadTooLargeException" {
			t.Fatalf("%+v, want a 413 PayloadTooLargeException", ae)
		}
	})
	t.Run("cancelled context has no sentinel", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		for _, o := range ops {
			err := o.call(cctx, p, c.ID())
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("%s: want context.Canceled, got %v", o.name, err)
			}
			noSentinel(t, err)
		}
	})
	t.Run("refused connection is unavailable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // nothing listens there now
		nobody := mustNew(t, localConfig(), "http://"+addr+"/ws")
		for _, o := range ops {
			err := o.call(ctx, nobody, c.ID())
			mustOnly(t, err, connections.ErrUnavailable)
			var se *awsrest.SendError
			if !errors.As(err, &se) {
				t.Fatalf("%s: %v does not wrap an *awsrest.SendError", o.name, err)
			}
		}
	})
	t.Run("empty connection id is refused unsent", func(t *testing.T) {
		for _, o := range ops {
			err := o.call(ctx, p, "")
			if err == nil || !strings.Contains(err.Error(), "connection id is empty") {
				t.Fatalf("%s: %v, want the empty ID refused", o.name, err)
			}
			noSentinel(t, err)
		}
	})
	// After all that, the connection is still fine.
	if err := p.Post(ctx, c.ID(), []byte("still here")); err != nil {
		t.Fatal(err)
	}
	if m, err := c.Receive(ctx); err != nil || string(m) != "still here" {
		t.Fatalf("received %q, %v", m, err)
	}
}

// TestStatusMapping: every status a proxy or API Gateway may answer maps
// to the right sentinel (or none) for every call, by x-amzn-ErrorType
// first and by status otherwise, and is never retried (the fan-out owns
// backoff). The server is a scripted HTTP endpoint, since the point is the
// Poster's reading of foreign answers.
func TestStatusMapping(t *testing.T) {
	cases := []struct {
		name      string
		status    int
		errorType string
		body      string
		want      error // nil: no sentinel
	}{
		{"403 ForbiddenException", 403, "ForbiddenException", `{"message":"Forbidden"}`, nil},
		{"403 without error type", 403, "", `{"message":"Missing Authentication Token"}`, nil},
		{"400 BadRequestException", 400, "BadRequestException", `{"message":"bad"}`, nil},
		{"404 from a proxy", 404, "", `not found`, nil},
		{"410 GoneException", 410, "GoneException", `{"message":"gone"}`, connections.ErrGone},
		{"410 without error type", 410, "", `{}`, connections.ErrGone},
		{"410 with an empty body", 410, "", ``, connections.ErrGone},
		{"413 PayloadTooLargeException", 413, "PayloadTooLargeException", `{"message":"too long"}`, connections.ErrTooLarge},
		{"413 without error type", 413, "", `{}`, connections.ErrTooLarge},
		{"429 LimitExceededException", 429, "LimitExceededException", `{"message":"slow down"}`, connections.ErrThrottled},
		{"429 without error type", 429, "", `{"message":"slow down"}`, connections.ErrThrottled},
		{"500 InternalServerErrorException", 500, "InternalServerErrorException", `{"message":"oops"}`, connections.ErrUnavailable},
		{"502 from a proxy with HTML", 502, "", `<html>bad gateway</html>`, connections.ErrUnavailable},
		{"503 ServiceUnavailableException", 503, "ServiceUnavailableException", `{"message":"down"}`, connections.ErrUnavailable},
		{"504 from a proxy", 504, "", ``, connections.ErrUnavailable},
		{"error type in the body only", 400, "", `{"__type":"com.amazonaws.apigatewaymanagementapi#GoneException","message":"gone"}`, connections.ErrGone},
		{"error type in other case, with a suffix", 400, "limitexceededexception:http://internal.amazon.com/", `{}`, connections.ErrThrottled},
		{"301 redirect", 301, "", ``, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				if tc.errorType != "" {
					w.Header().Set("x-amzn-ErrorType", tc.errorType)
				}
				w.Header().Set("x-amzn-RequestId", "req-1")
				if tc.status/100 == 3 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			p := mustNew(t, localConfig(), srv.URL)
			for _, o := range ops {
				calls.Store(0)
				err := o.call(context.Background(), p, "abc=")
				if err == nil {
					t.Fatalf("%s: a %d answer succeeded", o.name, tc.status)
				}
				if tc.want == nil {
					noSentinel(t, err)
				} else {
					mustOnly(t, err, tc.want)
				}
				if ae := apiError(t, err); ae.StatusCode != tc.status || ae.RequestID != "req-1" {
					t.Fatalf("%s: %+v, want status %d and request id req-1", o.name, ae, tc.status)
				}
				if n := calls.Load(); n != 1 {
					t.Fatalf("%s: %d requests sent: retries (and redirects) must be off", o.name, n)
				}
			}
		})
	}
}

// TestSuccessStatuses: any 2xx is a success, as for the SDK (DELETE
// answers 204 on AWS, POST 200).
func TestSuccessStatuses(t *testing.T) {
	for _, status := range []int{200, 202, 204} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
		}))
		p := mustNew(t, localConfig(), srv.URL)
		for _, o := range ops {
			if err := o.call(context.Background(), p, "abc="); err != nil {
				t.Errorf("%s answered %d: %v", o.name, status, err)
			}
		}
		srv.Close()
	}
}

// TestDeadline: a context that expires while the server holds the request
// is reported as context.DeadlineExceeded, with no sentinel.
func TestDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	p := mustNew(t, localConfig(), srv.URL)
	for _, o := range ops {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		err := o.call(ctx, p, "abc=")
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s: want context.DeadlineExceeded, got %v", o.name, err)
		}
		noSentinel(t, err)
	}
}
