package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamer/streamer/bus"
	ddbevents "github.com/streamer/streamer/events/dynamodb"
	"github.com/streamer/streamer/feed"
	"github.com/streamer/streamer/feed/lambda"
	"github.com/streamer/streamer/projections"
	ddbviews "github.com/streamer/streamer/projections/dynamodb"
)

// AWSConfig configures the AWS runtime (Lambdas, or a local process against
// an AWS endpoint).
type AWSConfig struct {
	EventsTable string // EVENTS_TABLE
	ViewsTable  string // VIEWS_TABLE
	// Publisher: when set, the projector publishes every batch to it after
	// writing the views (the EventBridge bus of EVENT_BUS_NAME: build it
	// with package app/awsbus, so that only the functions that publish link
	// the publisher).
	Publisher bus.Publisher
	TTL       projections.TTL
	// DeferBootstrap skips reading (and, on a new table, creating) the
	// views' meta item while wiring: the Lambdas set it to keep the
	// DynamoDB round trip out of their cold start. Nothing depends on the
	// meta item being there: the projector bootstraps it before every
	// batch and a Reader answers "not found" until it exists. The cost is
	// that a missing table or bad credentials show at the first invocation
	// instead of at init, and the first request opens the connection.
	DeferBootstrap bool
	Logger         *slog.Logger
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
	// Publisher puts projected events on EventBridge; nil without a bus
	// (AWSConfig.Publisher).
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
	if !cfg.DeferBootstrap {
		if _, err := projections.Bootstrap(ctx, views); err != nil {
			return nil, err
		}
	}
	return &AWS{
		Publisher: cfg.Publisher,
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

// Logger is the runtime's logger.
func (a *AWS) Logger() *slog.Logger { return a.log }
