package apigw_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/streamer/streamer/connections"
	"github.com/streamer/streamer/connections/apigw"
	"github.com/streamer/streamer/connections/postertest"
	"github.com/streamer/streamer/gateway"
	"github.com/streamer/streamer/gateway/gatewaytest"
	"github.com/streamer/streamer/internal/awsrest"
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

// mustNew is apigw.New that fails the test on a configuration error.
func mustNew(t *testing.T, cfg aws.Config, endpoint string) *apigw.Poster {
	t.Helper()
	p, err := apigw.New(cfg, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConformanceLocalGateway: signed HTTP to the real gateway, with real
// WebSocket clients.
func TestConformanceLocalGateway(t *testing.T) {
	srv := startLocal(t)
	postertest.Run(t, postertest.Harness{
		Poster: mustNew(t, localConfig(), srv.Endpoint),
		Connect: func(t *testing.T) postertest.Client {
			return srv.Dial(t, gatewaytest.DialOptions{})
		},
		ConnectStuck: func(t *testing.T) postertest.Client {
			return srv.Dial(t, gatewaytest.DialOptions{Stuck: true})
		},
	})
}

// TestConformanceLocalGatewayWithStage: the endpoint may name the stage,
// as API Gateway's https://{api-id}.execute-api.{region}.amazonaws.com/{stage},
// and may end with a slash.
func TestConformanceLocalGatewayWithStage(t *testing.T) {
	srv := startLocal(t)
	postertest.Run(t, postertest.Harness{
		Poster: apigw.NewFromConfig(localConfig(), srv.Endpoint+"/"+gateway.DefaultStage+"/"),
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
// always succeeds), no 128 KiB limit, and no stuck sockets. Its
// GetConnection answer has epoch numbers, which Info takes.
func TestConformanceMoto(t *testing.T) {
	postertest.Run(t, postertest.Harness{
		Poster: mustNew(t, testenv.AWSConfig(t), testenv.Endpoint(t)),
		Connect: func(t *testing.T) postertest.Client {
			b := make([]byte, 8)
			rand.Read(b)
			return motoClient{id: "moto" + hex.EncodeToString(b) + "="}
		},
		Features: postertest.Features{NoDelivery: true, NoGone: true, NoSizeLimit: true, NoStuck: true},
	})
}

// TestMotoDivergences pins what moto does where AWS differs, so a moto
// upgrade that changes it is noticed (and the Features above revisited).
func TestMotoDivergences(t *testing.T) {
	ctx := context.Background()
	cfg := testenv.AWSConfig(t)
	p := mustNew(t, cfg, testenv.Endpoint(t))
	id := "motoNeverConnected="
	if err := p.Post(ctx, id, []byte("x")); err != nil {
		t.Errorf("moto refused a post to an unknown connection (AWS: 410): %v", err)
	}
	if err := p.Post(ctx, id, make([]byte, postertest.MaxMessageSize+1)); err != nil {
		t.Errorf("moto refused a post over 128 KiB (AWS: 413): %v", err)
	}

	// GetConnection answers times as epoch numbers (AWS: ISO 8601
	// strings), which the SDK client cannot decode and Info takes.
	raw, err := awsrest.New(cfg, apigw.SigningName)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := raw.Do(ctx, http.MethodGet, testenv.Endpoint(t)+"/@connections/"+id, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(resp.Body, &doc); resp.StatusCode != 200 || err != nil {
		t.Fatalf("moto's GetConnection: %d %s (%v)", resp.StatusCode, resp.Body, err)
	}
	for _, k := range []string{"connectedAt", "lastActiveAt"} {
		if _, isNumber := doc[k].(float64); !isNumber {
			t.Errorf("moto's %s is %v (%T), no longer an epoch number: %s", k, doc[k], doc[k], resp.Body)
		}
	}
	info, err := p.Info(ctx, id)
	if err != nil {
		t.Errorf("Info of moto's answer: %v", err)
	}
	if time.Since(info.ConnectedAt).Abs() > time.Hour || info.SourceIP == "" {
		t.Errorf("Info of moto's answer %s decoded as %+v", resp.Body, info)
	}

	if err := p.Disconnect(ctx, id); err != nil {
		t.Errorf("moto refused a delete: %v", err)
	}
	if err := p.Disconnect(ctx, id); err != nil {
		t.Errorf("moto refused a second delete (AWS: 410): %v", err)
	}
	staged := mustNew(t, cfg, testenv.Endpoint(t)+"/dev")
	if err := staged.Post(ctx, id, []byte("x")); err == nil {
		t.Errorf("moto now serves the management API under a stage path")
	}
}

// TestInfoFields: Info carries what the gateway knows of the connection.
func TestInfoFields(t *testing.T) {
	srv := startLocal(t)
	before := time.Now().Truncate(time.Millisecond)
	c := srv.Dial(t, gatewaytest.DialOptions{Header: http.Header{"User-Agent": {"apigw-test/1.0"}}})
	info, err := mustNew(t, localConfig(), srv.Endpoint).Info(context.Background(), c.ID())
	if err != nil {
		t.Fatal(err)
	}
	if info.UserAgent != "apigw-test/1.0" || info.SourceIP != "127.0.0.1" {
		t.Fatalf("info %+v: want user agent apigw-test/1.0 from 127.0.0.1", info)
	}
	if info.ConnectedAt.Before(before) || info.ConnectedAt.After(time.Now()) || !info.LastActiveAt.Equal(info.ConnectedAt) {
		t.Fatalf("info %+v: want connectedAt = lastActiveAt, between %v and now", info, before)
	}
}

// TestConfiguration: New reports what is wrong; NewFromConfig's Poster
// fails every call with it, sends nothing, and matches no sentinel.
func TestConfiguration(t *testing.T) {
	cases := []struct {
		name     string
		cfg      aws.Config
		endpoint string
		want     []string
	}{
		{"no credentials", aws.Config{Region: "local"}, "http://127.0.0.1:1/ws", []string{"no credentials"}},
		{"no region", aws.Config{Credentials: localConfig().Credentials}, "http://127.0.0.1:1/ws", []string{"no region"}},
		{"relative endpoint", localConfig(), "/ws", []string{"endpoint"}},
		{"endpoint with a query", localConfig(), "http://127.0.0.1:1/ws?stage=dev", []string{"endpoint"}},
		{"not http", localConfig(), "ws://127.0.0.1:1/ws", []string{"endpoint"}},
		{"everything", aws.Config{}, "", []string{"no region", "no credentials", "endpoint"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := apigw.New(tc.cfg, tc.endpoint); err == nil {
				t.Fatal("New accepted it")
			} else {
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("New: %v, want it to say %q", err, w)
					}
				}
			}
			p := apigw.NewFromConfig(tc.cfg, tc.endpoint)
			ctx := context.Background()
			_, infoErr := p.Info(ctx, "abc=")
			for _, err := range []error{p.Post(ctx, "abc=", []byte("x")), infoErr, p.Disconnect(ctx, "abc=")} {
				if err == nil {
					t.Fatal("a call of a misconfigured Poster succeeded")
				}
				noSentinel(t, err)
			}
		})
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
