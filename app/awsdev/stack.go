// Package awsdev runs the AWS adapters as one local process: events and
// views in DynamoDB at an endpoint (moto, or a real account), the two
// stream readers (projector, fan-out) driven by the DynamoDB Streams
// poller with the exact payloads Lambda sends, and the local gateway in
// place of API Gateway, whose @connections endpoint the fan-out reaches
// with the real SDK client. It is what `streamer dev --aws-endpoint` and
// the AWS end-to-end tests run.
//
// One difference from AWS: the processor is triggered by a third stream
// reader (request.submitted) instead of an EventBridge rule.
package awsdev

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dbstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/streamer/streamer/app"
	"github.com/streamer/streamer/app/awsbus"
	"github.com/streamer/streamer/app/localfront"
	"github.com/streamer/streamer/auth"
	"github.com/streamer/streamer/handler"
	"github.com/streamer/streamer/handler/demo"
)

// Config configures the stack.
type Config struct {
	AWS         aws.Config // SDK configuration with the endpoint
	EventsTable string
	ViewsTable  string
	// EventBusName: when set, the projector publishes to this EventBridge
	// bus at the endpoint (moto's "default" bus exists).
	EventBusName string
	DataDir      string // development key and failed-batches file
	Addr         string // default 127.0.0.1:0
	Router       *handler.Router
	Demo         demo.Options
	Auth         auth.Config // zero: a development key in DataDir
	Gateway      app.GatewayOptions
	Workers      int
	// CancelPoll is the processor's backstop check of running requests
	// (default app.LocalCancelPoll): the processor's stream reader wakes
	// the running attempt when a cancel_requested arrives.
	CancelPoll time.Duration
	// PollInterval of the stream readers after an empty read (default 100ms).
	PollInterval time.Duration
	Logger       *slog.Logger
}

// Stack is the running stack.
type Stack struct {
	Runtime      *app.AWS
	Core         *app.Core
	Front        *app.Front
	DevKey       *auth.DevKey
	WebSocketURL string
	HTTPURL      string
	FailedFile   string // batches that exhausted their retries, one JSON line each

	started           *localfront.Started
	cancel            context.CancelFunc
	*localfront.Group // background components; Err reports the first failure
}

// Start creates the tables if needed and starts everything in the
// background.
func Start(ctx context.Context, cfg Config) (_ *Stack, err error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 100 * time.Millisecond
	}
	if err := app.CreateTables(ctx, dynamodb.NewFromConfig(cfg.AWS), cfg.EventsTable, cfg.ViewsTable); err != nil {
		return nil, err
	}
	pub, err := awsbus.New(cfg.AWS, cfg.EventBusName, "", logger)
	if err != nil {
		return nil, err
	}
	rt, err := app.NewAWS(ctx, cfg.AWS, app.AWSConfig{
		EventsTable: cfg.EventsTable, ViewsTable: cfg.ViewsTable, Publisher: pub, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	s := &Stack{Runtime: rt, Group: localfront.NewGroup(logger), FailedFile: filepath.Join(cfg.DataDir, "failed-batches.jsonl")}
	st, err := localfront.Start(ctx, localfront.Options{
		Addr: cfg.Addr, DataDir: cfg.DataDir, Auth: cfg.Auth, Router: cfg.Router, Demo: cfg.Demo,
		Gateway: cfg.Gateway,
		Core: app.CoreConfig{
			Store: rt.Events, Reader: rt.Reader,
			Workers: cfg.Workers, CancelPoll: cmp.Or(cfg.CancelPoll, app.LocalCancelPoll), Source: "aws-local",
		},
		Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	s.started, s.Core, s.DevKey = st, st.Core, st.DevKey
	front, core := st.Front, st.Core
	s.Front, s.HTTPURL, s.WebSocketURL = front, front.HTTPURL, front.WebSocketURL

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	failed := FileFailureDestination(s.FailedFile, logger)
	readers := []StreamReader{
		{Name: rt.Projector.Name(), Handler: rt.ProjectorHandler(), PollInterval: cfg.PollInterval},
		// The fan-out only matters for sockets open now.
		{Name: core.Fanout.Name(), Handler: rt.StreamHandler(core.Fanout), PollInterval: cfg.PollInterval, StartingPosition: dbstypes.ShardIteratorTypeLatest},
		{Name: "processor", Handler: rt.StreamHandler(core.Processor.Consumer()), PollInterval: cfg.PollInterval},
	}
	if err := core.Processor.Start(runCtx); err != nil {
		cancel()
		front.Close(ctx)
		return nil, err
	}
	for _, r := range readers {
		s.Go(func() error { return RunStream(runCtx, rt, cfg.AWS, r, failed) })
	}
	s.Go(front.Serve)
	logger.Info("AWS adapters stack started", "websocket", s.WebSocketURL, "http", s.HTTPURL)
	return s, nil
}

// Token mints a development token.
func (s *Stack) Token(user, tenant string, permissions ...string) (string, error) {
	return s.started.Token(user, tenant, permissions...)
}

// Close stops everything.
func (s *Stack) Close() error {
	if !s.CloseOnce() {
		return nil
	}
	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	// As app/embedded: sockets first, then the pollers and the processor
	// (running requests are left for re-delivery).
	errs := []error{s.Front.Close(ctx)}
	s.cancel()
	s.Wait()
	return errors.Join(append(errs, s.Core.Processor.Stop(ctx), s.Err())...)
}
