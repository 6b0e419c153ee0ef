package apigw_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	smithy "github.com/aws/smithy-go"

	"github.com/streamer/streamer/connections"
	"github.com/streamer/streamer/connections/apigw"
	"github.com/streamer/streamer/connections/postertest"
	"github.com/streamer/streamer/gateway"
	"github.com/streamer/streamer/gateway/gatewaytest"
	"github.com/streamer/streamer/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// localConfig is what a dev server gives the poster: any static
// credentials, any region.
func localConfig() aws.Config {
	return aws.Config{
		Region:      "local",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}
}

// startLocal runs a gateway whose stuck writes outlast the suite (it ends
// them by closing the client).
func startLocal(t *testing.T) *gatewaytest.Server {
	return gatewaytest.Start(t, gateway.Config{PostTimeout: 2 * time.Minute, Logger: quiet},
		gatewaytest.Options{SmallSendBuffers: true})
}

// TestConformanceLocalGateway: the real SDK client over HTTP to the real
// gateway, with real WebSocket clients.
func TestConformanceLocalGateway(t *testing.T) {
	srv := startLocal(t)
	postertest.Run(t, postertest.Harness{
		Poster: apigw.NewFromConfig(localConfig(), srv.Endpoint),
		Connect: func(t *testing.T) postertest.Client {
			return srv.Dial(t, gatewaytest.DialOptions{})
		},
		ConnectStuck: func(t *testing.T) postertest.Client {
			return srv.Dial(t, gatewaytest.DialOptions{Stuck: true})
		},
	})
}

// TestConformanceLocalGatewayWithStage: the endpoint may name the stage,
// as API Gateway's https://{api-id}.execute-api.{region}.amazonaws.com/{stage}.
func TestConformanceLocalGatewayWithStage(t *testing.T) {
	srv := startLocal(t)
	postertest.Run(t, postertest.Harness{
		Poster: apigw.NewFromConfig(localConfig(), srv.Endpoint+"/"+gateway.DefaultStage),
		Connect: func(t *testing.T) postertest.Client {
			return srv.Dial(t, gatewaytest.DialOptions{})
		},
		Features: postertest.Features{NoStuck: true}, // covered above
	})
}

// motoClient is a connection ID moto will answer for: moto has no
// sockets, and makes up a connection for any ID it is asked about.
type motoClient struct{ id string }

func (c motoClient) ID() string { return c.id }
func (c motoClient) Receive(context.Context) ([]byte, error) {
	return nil, errors.New("moto has no sockets")
}
func (c motoClient) Close() error { return nil }

// TestConformanceMoto runs what applies against moto_server's management
// API. moto keeps posted bytes in memory per connection ID without any
// socket, so: no delivery to observe, never 410 (every ID exists; DELETE
// always succeeds), no 128 KiB limit, a GetConnection answer with epoch
// numbers where the SDK expects ISO 8601 strings, and no stuck sockets.
func TestConformanceMoto(t *testing.T) {
	postertest.Run(t, postertest.Harness{
		Poster: apigw.NewFromConfig(testenv.AWSConfig(t), testenv.Endpoint(t)),
		Connect: func(t *testing.T) postertest.Client {
			b := make([]byte, 8)
			rand.Read(b)
			return motoClient{id: "moto" + hex.EncodeToString(b) + "="}
		},
		Features: postertest.Features{NoDelivery: true, NoGone: true, NoSizeLimit: true, NoInfo: true, NoStuck: true},
	})
}

// TestMotoDivergences pins what moto does where AWS differs, so a moto
// upgrade that changes it is noticed (and the Features above revisited).
func TestMotoDivergences(t *testing.T) {
	ctx := context.Background()
	p := apigw.NewFromConfig(testenv.AWSConfig(t), testenv.Endpoint(t))
	id := "motoNeverConnected="
	if err := p.Post(ctx, id, []byte("x")); err != nil {
		t.Errorf("moto refused a post to an unknown connection (AWS: 410): %v", err)
	}
	if err := p.Post(ctx, id, make([]byte, postertest.MaxMessageSize+1)); err != nil {
		t.Errorf("moto refused a post over 128 KiB (AWS: 413): %v", err)
	}
	var de *smithy.DeserializationError
	if _, err := p.Info(ctx, id); !errors.As(err, &de) {
		t.Errorf("moto's GetConnection answer decoded (it used to send epoch numbers): %v", err)
	}
	if err := p.Disconnect(ctx, id); err != nil {
		t.Errorf("moto refused a delete: %v", err)
	}
	if err := p.Disconnect(ctx, id); err != nil {
		t.Errorf("moto refused a second delete (AWS: 410): %v", err)
	}
	staged := apigw.NewFromConfig(testenv.AWSConfig(t), testenv.Endpoint(t)+"/dev")
	if err := staged.Post(ctx, id, []byte("x")); err == nil {
		t.Errorf("moto now serves the management API under a stage path")
	}
}

// TestSDKErrors: what the real SDK makes of the gateway's refusals.
func TestSDKErrors(t *testing.T) {
	ctx := context.Background()
	srv := startLocal(t)
	c := srv.Dial(t, gatewaytest.DialOptions{})

	t.Run("wrong stage is forbidden", func(t *testing.T) {
		p := apigw.NewFromConfig(localConfig(), srv.Endpoint+"/prod")
		err := p.Post(ctx, c.ID(), []byte("x"))
		var fe *types.ForbiddenException
		if !errors.As(err, &fe) {
			t.Fatalf("want ForbiddenException, got %v", err)
		}
		noSentinel(t, err)
	})
	t.Run("unsigned request is forbidden", func(t *testing.T) {
		p := apigw.NewFromConfig(aws.Config{Region: "local"}, srv.Endpoint)
		err := p.Post(ctx, c.ID(), []byte("x"))
		var fe *types.ForbiddenException
		if !errors.As(err, &fe) {
			t.Fatalf("want ForbiddenException, got %v", err)
		}
	})
	t.Run("gone wraps the SDK error", func(t *testing.T) {
		p := apigw.NewFromConfig(localConfig(), srv.Endpoint)
		err := p.Post(ctx, "NoSuchConnection=", []byte("x"))
		var ge *types.GoneException
		if !errors.Is(err, connections.ErrGone) || !errors.As(err, &ge) {
			t.Fatalf("want ErrGone wrapping *types.GoneException, got %v", err)
		}
	})
	t.Run("too large wraps the SDK error", func(t *testing.T) {
		p := apigw.NewFromConfig(localConfig(), srv.Endpoint)
		err := p.Post(ctx, c.ID(), make([]byte, gateway.DefaultMaxMessageSize+1))
		var pe *types.PayloadTooLargeException
		if !errors.Is(err, connections.ErrTooLarge) || !errors.As(err, &pe) {
			t.Fatalf("want ErrTooLarge wrapping *types.PayloadTooLargeException, got %v", err)
		}
	})
	t.Run("cancelled context has no sentinel", func(t *testing.T) {
		p := apigw.NewFromConfig(localConfig(), srv.Endpoint)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err := p.Post(cctx, c.ID(), []byte("x"))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("want context.Canceled, got %v", err)
		}
		noSentinel(t, err)
	})
	t.Run("transport failure is unavailable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // nothing listens there now
		p := apigw.NewFromConfig(localConfig(), "http://"+addr+"/ws")
		err = p.Post(ctx, c.ID(), []byte("x"))
		mustOnly(t, err, connections.ErrUnavailable)
	})
}

// TestStatusMapping: statuses the gateway never sends (5xx, a bare 429 or
// 410 from a proxy) still map to the right sentinel, and the SDK does not
// retry them (the fan-out owns backoff). The server is a scripted HTTP
// endpoint, since the point is the SDK's parsing of foreign answers.
func TestStatusMapping(t *testing.T) {
	cases := []struct {
		name      string
		status    int
		errorType string
		body      string
		want      error
	}{
		{"503 with a JSON error", 503, "ServiceUnavailableException", `{"message":"down"}`, connections.ErrUnavailable},
		{"502 from a proxy with HTML", 502, "", `<html>bad gateway</html>`, connections.ErrUnavailable},
		{"500 internal", 500, "InternalServerErrorException", `{"message":"oops"}`, connections.ErrUnavailable},
		{"429 without error type", 429, "", `{"message":"slow down"}`, connections.ErrThrottled},
		{"429 LimitExceededException", 429, "LimitExceededException", `{"message":"slow down"}`, connections.ErrThrottled},
		{"410 without error type", 410, "", `{}`, connections.ErrGone},
		{"413 without error type", 413, "", `{}`, connections.ErrTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				if tc.errorType != "" {
					w.Header().Set("x-amzn-ErrorType", tc.errorType)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			p := apigw.NewFromConfig(localConfig(), srv.URL)
			mustOnly(t, p.Post(context.Background(), "abc=", []byte("x")), tc.want)
			if n := calls.Load(); n != 1 {
				t.Fatalf("the SDK sent %d requests: retries must be off", n)
			}
		})
	}
}

// TestInfoFields: Info carries what the gateway knows of the connection.
func TestInfoFields(t *testing.T) {
	srv := startLocal(t)
	c := srv.Dial(t, gatewaytest.DialOptions{Header: http.Header{"User-Agent": {"apigw-test/1.0"}}})
	info, err := apigw.NewFromConfig(localConfig(), srv.Endpoint).Info(context.Background(), c.ID())
	if err != nil {
		t.Fatal(err)
	}
	if info.UserAgent != "apigw-test/1.0" || info.SourceIP != "127.0.0.1" {
		t.Fatalf("info %+v: want user agent apigw-test/1.0 from 127.0.0.1", info)
	}
}

func mustOnly(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("want %v, got %v", target, err)
	}
	for _, s := range []error{connections.ErrGone, connections.ErrThrottled, connections.ErrTooLarge, connections.ErrUnavailable} {
		if s != target && errors.Is(err, s) {
			t.Fatalf("%v also matches %v", err, s)
		}
	}
}

func noSentinel(t *testing.T, err error) {
	t.Helper()
	for _, s := range []error{connections.ErrGone, connections.ErrThrottled, connections.ErrTooLarge, connections.ErrUnavailable} {
		if errors.Is(err, s) {
			t.Fatalf("%v matches %v", err, s)
		}
	}
}
