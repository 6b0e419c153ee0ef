package tests

import (
	"cmp"
	"context"
	"testing"

	"github.com/streamer/streamer/app/awsdev"
	"github.com/streamer/streamer/internal/testenv"
)

// AWSEnvironment is the core on the AWS adapters against moto: DynamoDB
// tables, the Streams poller feeding the projector and fan-out handlers,
// and the local gateway for WebSocket and @connections.
type AWSEnvironment struct {
	Stack *awsdev.Stack
}

// NewAWSEnvironment starts the AWS-adapter stack against the test moto.
func NewAWSEnvironment(t testing.TB, opts ...Options) *AWSEnvironment {
	t.Helper()
	o := Options{Demo: FastDemo}
	if len(opts) > 0 {
		o = opts[0]
	}
	s, err := awsdev.Start(context.Background(), awsdev.Config{
		AWS:          testenv.Serial(testenv.AWSConfig(t)),
		EventsTable:  testenv.UniqueName(t, "events"),
		ViewsTable:   testenv.UniqueName(t, "views"),
		EventBusName: "default",
		DataDir:      t.TempDir(),
		Demo:         o.Demo,
		Workers:      o.Workers,
		CancelPoll:   cmp.Or(o.CancelPoll, NoCancelPoll),
		Logger:       testLogger(t),
	})
	if err != nil {
		t.Fatalf("start AWS stack: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("stop AWS stack: %v", err)
		}
	})
	return &AWSEnvironment{Stack: s}
}

// URL is the WebSocket URL.
func (e *AWSEnvironment) URL() string { return e.Stack.WebSocketURL }

// Token mints a development token.
func (e *AWSEnvironment) Token(t testing.TB, user, tenant string, permissions ...string) string {
	t.Helper()
	tok, err := e.Stack.Token(user, tenant, permissions...)
	if err != nil {
		t.Fatalf("mint token: %v", err)
	}
	return tok
}
