// Package tests holds the end-to-end, load and fault tests of streamer,
// and the environments they run in: the local stack in-process
// (NewLocalEnvironment) and the AWS adapters against a moto endpoint
// (NewAWSEnvironment). Both are driven through real WebSocket clients
// (package client), so the same scenarios run on both.
package tests

import (
	"cmp"
	"context"
	"encoding/base64"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamer/streamer/app"
	"github.com/streamer/streamer/app/embedded"
	"github.com/streamer/streamer/auth"
	"github.com/streamer/streamer/client"
	"github.com/streamer/streamer/feed/local"
	"github.com/streamer/streamer/handler"
	"github.com/streamer/streamer/handler/demo"
)

// Environment is a running streamer that tests talk to.
type Environment interface {
	// URL is the WebSocket URL.
	URL() string
	// Token mints a token the environment accepts.
	Token(t testing.TB, user, tenant string, permissions ...string) string
}

// Options tune an environment for a test.
type Options struct {
	Demo           demo.Options // demo handler speed
	Workers        int
	SilenceTimeout time.Duration
	IdleTimeout    time.Duration
	Router         *handler.Router // nil: the demo handlers
	// CancelPoll is the processor's backstop check of running requests;
	// 0 takes an hour (NoCancelPoll), so every cancel in the tests must
	// reach the running handler through the wake-up (the local bus rule,
	// or the processor's stream reader on the AWS stack).
	CancelPoll time.Duration
	// DataDir is the embedded store's folder; "" takes a new t.TempDir().
	// Two environments on one folder are a restart.
	DataDir string
}

// NoCancelPoll is the tests' default CancelPoll: long enough that a cancel
// a test sees arrived through the wake-up, not a poll.
const NoCancelPoll = time.Hour

// FastDemo makes generate_report take about 10 steps × 20 ms.
var FastDemo = demo.Options{Steps: 10, StepDelay: 20 * time.Millisecond}

// LocalEnvironment is the local stack (embedded store, feeds, projector,
// fan-out, processor, gateway, HTTP API) started in-process on a free
// loopback port with a data folder in t.TempDir() (or Options.DataDir).
type LocalEnvironment struct {
	Stack *embedded.Stack
}

// NewLocalEnvironment starts the local stack for t and stops it when t ends.
func NewLocalEnvironment(t testing.TB, opts ...Options) *LocalEnvironment {
	t.Helper()
	o := Options{Demo: FastDemo}
	if len(opts) > 0 {
		o = opts[0]
	}
	dir := o.DataDir
	if dir == "" {
		dir = t.TempDir()
	}
	s, err := embedded.Start(context.Background(), embedded.StackConfig{
		Config: embedded.Config{
			DataDir: dir,
			Logger:  testLogger(t),
			Feed:    local.Config{PollInterval: 100 * time.Millisecond},
		},
		Demo:           o.Demo,
		Router:         o.Router,
		Workers:        o.Workers,
		SilenceTimeout: o.SilenceTimeout,
		IdleTimeout:    o.IdleTimeout,
		CancelPoll:     cmp.Or(o.CancelPoll, NoCancelPoll),
	})
	if err != nil {
		t.Fatalf("start local stack: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("stop local stack: %v", err)
		}
	})
	return &LocalEnvironment{Stack: s}
}

// URL is the WebSocket URL.
func (e *LocalEnvironment) URL() string { return e.Stack.WebSocketURL }

// Token mints a development token.
func (e *LocalEnvironment) Token(t testing.TB, user, tenant string, permissions ...string) string {
	t.Helper()
	tok, err := e.Stack.Token(user, tenant, permissions...)
	if err != nil {
		t.Fatalf("mint token: %v", err)
	}
	return tok
}

// Dial connects a client of user in tenant to env and closes it when t ends.
func Dial(t testing.TB, env Environment, user, tenant string, permissions ...string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background()) // the client's lifetime
	c, err := client.Dial(ctx, env.URL(), client.Options{
		Token: env.Token(t, user, tenant, permissions...), Logger: testLogger(t), HandshakeTimeout: 30 * time.Second,
	})
	if err != nil {
		cancel()
		t.Fatalf("dial %s: %v", env.URL(), err)
	}
	t.Cleanup(func() { c.Close(); cancel() })
	return c
}

// testLogger logs warnings and errors to a file in the test's temp dir
// (printed when the test fails) or, with STREAMER_TEST_LOG=1, to stderr.
func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("STREAMER_TEST_LOG") != "" {
		return app.NewLogger(os.Stderr, os.Getenv("LOG_LEVEL"))
	}
	path := filepath.Join(t.TempDir(), "log.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatalf("log file: %v", err)
	}
	t.Cleanup(func() {
		f.Close()
		if t.Failed() {
			if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
				if len(b) > 20000 {
					b = b[len(b)-20000:]
				}
				t.Logf("server log (tail):\n%s", b)
			}
		}
	})
	return app.NewLogger(f, "warn")
}

// devKey makes a development key for environments that mint their own tokens.
func devKey(t testing.TB) *auth.DevKey {
	t.Helper()
	k, err := auth.LoadOrCreateDevKey(t.TempDir())
	if err != nil {
		t.Fatalf("dev key: %v", err)
	}
	return k
}

func authSpec(user, tenant string) auth.TokenSpec {
	return auth.TokenSpec{User: user, Tenant: tenant, TTL: time.Hour}
}

func jwtDecode(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func jwtEncode(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
