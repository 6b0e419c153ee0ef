package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	dbstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/streamer/streamer/bus"
	ebpub "github.com/streamer/streamer/bus/eventbridge"
	ddbevents "github.com/streamer/streamer/events/dynamodb"
	"github.com/streamer/streamer/feed"
	"github.com/streamer/streamer/feed/lambda"
	"github.com/streamer/streamer/feed/streams"
	"github.com/streamer/streamer/projections"
	ddbviews "github.com/streamer/streamer/projections/dynamodb"
)

// AWSConfig configures the AWS runtime (Lambdas, or a local process against
// an AWS endpoint).
type AWSConfig struct {
	EventsTable string // EVENTS_TABLE
	ViewsTable  string // VIEWS_TABLE
	// EventBusName (EVENT_BUS_NAME): when set, the projector publishes every
	// batch to this EventBridge bus after writing the views; EventSource
	// (EVENT_SOURCE) is the entries' source, default "streamer".
	EventBusName string
	EventSource  string
	TTL          projections.TTL
	Logger       *slog.Logger
}

// Validate reports every problem at once.
func (c AWSConfig) Validate() error {
	var errs []error
	if c.EventsTable == "" {
		errs = append(errs, errors.New("app: EventsTable (EVENTS_TABLE) is required"))
	}
	if c.ViewsTable == "" {
		errs = append(errs, errors.New("app: ViewsTable (VIEWS_TABLE) is required"))
	}
	return errors.Join(errs...)
}

// AWS is the runtime on AWS services: the DynamoDB event log and views, and
// the projector behind the Lambda stream handler.
type AWS struct {
	DynamoDB  *dynamodb.Client
	Events    *ddbevents.Store
	Views     *ddbviews.Views
	Reader    *projections.Reader
	Projector *projections.Projector
	// Publisher puts projected events on EventBridge; nil without a bus.
	Publisher bus.Publisher
	cfg       AWSConfig
	log       *slog.Logger
}

// NewAWS wires the AWS runtime from an SDK configuration.
func NewAWS(ctx context.Context, awsCfg aws.Config, cfg AWSConfig) (*AWS, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	client := dynamodb.NewFromConfig(awsCfg)
	store := ddbevents.New(client, cfg.EventsTable)
	views := ddbviews.New(client, cfg.ViewsTable)
	if _, err := projections.Bootstrap(ctx, views); err != nil {
		return nil, err
	}
	var pub bus.Publisher
	if cfg.EventBusName != "" {
		p, err := ebpub.New(eventbridge.NewFromConfig(awsCfg), ebpub.Config{
			BusName: cfg.EventBusName, Source: cfg.EventSource, Logger: logger.With("component", "publisher"),
		})
		if err != nil {
			return nil, err
		}
		pub = p
	}
	return &AWS{
		Publisher: pub,
		DynamoDB:  client,
		Events:    store,
		Views:     views,
		Reader:    projections.NewReader(views),
		Projector: projections.NewProjector(store, views, projections.WithName("projector"), projections.WithTTL(cfg.TTL), projections.WithLogger(logger)),
		cfg:       cfg,
		log:       logger,
	}, nil
}

// CreateTables creates the events and views tables (idempotent).
func CreateTables(ctx context.Context, client *dynamodb.Client, eventsTable, viewsTable string) error {
	if err := ddbevents.CreateTable(ctx, client, eventsTable); err != nil {
		return fmt.Errorf("events table %s: %w", eventsTable, err)
	}
	if err := ddbviews.CreateTable(ctx, client, viewsTable); err != nil {
		return fmt.Errorf("views table %s: %w", viewsTable, err)
	}
	return nil
}

// ProjectorHandler is the projector Lambda's handler: DynamoDB Streams
// records of the events table → views, then (with a bus) EventBridge, so a
// subscriber that sees an event and reads the view finds it applied.
func (a *AWS) ProjectorHandler() lambda.Handler {
	var c feed.Consumer = a.Projector
	if a.Publisher != nil {
		c = bus.PublishAfter(a.Projector, a.Publisher)
	}
	return lambda.NewHandler(c, ddbevents.UnmarshalStreamImage, a.log)
}

// RebuildSource is the resumable parallel-Scan replay of the events table.
func (a *AWS) RebuildSource(segments int) projections.Source {
	return ddbviews.NewSource(a.DynamoDB, a.cfg.EventsTable, ddbviews.WithSegments(segments))
}

// StreamARN returns the events table's latest stream ARN.
func (a *AWS) StreamARN(ctx context.Context) (string, error) {
	out, err := a.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(a.cfg.EventsTable)})
	if err != nil {
		return "", fmt.Errorf("describe %s: %w", a.cfg.EventsTable, err)
	}
	arn := aws.ToString(out.Table.LatestStreamArn)
	if arn == "" {
		return "", fmt.Errorf("table %s has no stream: create it with `streamer tables create`", a.cfg.EventsTable)
	}
	return arn, nil
}

// StreamReader is one reader of the events table's stream, as an event
// source mapping is on AWS: a Lambda handler and its polling options.
type StreamReader struct {
	Name    string         // for logs
	Handler lambda.Handler // e.g. ProjectorHandler() or StreamHandler(fanout)
	// StartingPosition: TRIM_HORIZON (default) or LATEST.
	StartingPosition dbstypes.ShardIteratorType
	PollInterval     time.Duration // wait after an empty read (poller default 250ms)
}

// RunStreams drives the projector handler from the events table's stream
// with the Streams poller, as Lambda's event source mapping does on AWS.
// Batches that exhaust their retries go to failed.
func (a *AWS) RunStreams(ctx context.Context, awsCfg aws.Config, failed streams.FailureDestination) error {
	return a.RunStream(ctx, awsCfg, StreamReader{Name: a.Projector.Name(), Handler: a.ProjectorHandler()}, failed)
}

// RunStream drives one stream reader with the Streams poller until ctx
// ends.
func (a *AWS) RunStream(ctx context.Context, awsCfg aws.Config, r StreamReader, failed streams.FailureDestination) error {
	arn, err := a.StreamARN(ctx)
	if err != nil {
		return err
	}
	p, err := streams.New(dynamodbstreams.NewFromConfig(awsCfg), r.Handler, streams.Config{
		StreamARN: arn, Region: awsCfg.Region, OnFailure: failed,
		StartingPosition: r.StartingPosition, PollInterval: r.PollInterval,
	}, a.log.With("consumer", r.Name))
	if err != nil {
		return err
	}
	err = p.Run(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// FileFailureDestination appends every failed batch as one JSON line to
// path: the local stand-in for the SQS on-failure destination the SAM
// template configures.
func FileFailureDestination(path string, logger *slog.Logger) streams.FailureDestination {
	var mu sync.Mutex
	return func(ctx context.Context, fb streams.FailedBatch) error {
		mu.Lock()
		defer mu.Unlock()
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		logger.ErrorContext(ctx, "batch sent to the failure destination", "file", path, "shard", fb.ShardID, "records", len(fb.Event.Records), "reason", fb.Reason)
		return json.NewEncoder(f).Encode(fb)
	}
}

// LoadAWSConfig loads the SDK configuration the usual way (environment,
// shared config, the Lambda role), with an optional endpoint override for
// moto or another local endpoint (DYNAMODB_ENDPOINT).
func LoadAWSConfig(ctx context.Context, region, endpoint string) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(endpoint))
	}
	return config.LoadDefaultConfig(ctx, opts...)
}

// NewLogger is the JSON slog logger every binary uses; level is LOG_LEVEL
// (debug, info — the default —, warn, error).
func NewLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "warn", "warning":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}
