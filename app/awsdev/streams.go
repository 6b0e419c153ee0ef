package awsdev

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	dbstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/streamer/streamer/app"
	"github.com/streamer/streamer/feed/lambda"
	"github.com/streamer/streamer/feed/streams"
)

// The stream pollers live here rather than in package app: only the local
// stand-in for the event source mappings needs the DynamoDB Streams client,
// and a Lambda that linked it would pay its package initialisation on
// every cold start.

// StreamReader is one reader of the events table's stream, as an event
// source mapping is on AWS: a Lambda handler and its polling options.
type StreamReader struct {
	Name    string         // for logs
	Handler lambda.Handler // e.g. ProjectorHandler() or StreamHandler(fanout)
	// StartingPosition: TRIM_HORIZON (default) or LATEST.
	StartingPosition dbstypes.ShardIteratorType
	PollInterval     time.Duration // wait after an empty read (poller default 250ms)
}

// RunStreams drives rt's projector handler from the events table's stream
// with the Streams poller, as Lambda's event source mapping does on AWS.
// Batches that exhaust their retries go to failed.
func RunStreams(ctx context.Context, rt *app.AWS, awsCfg aws.Config, failed streams.FailureDestination) error {
	return RunStream(ctx, rt, awsCfg, StreamReader{Name: rt.Projector.Name(), Handler: rt.ProjectorHandler()}, failed)
}

// RunStream drives one stream reader of rt's events table with the Streams
// poller until ctx ends.
func RunStream(ctx context.Context, rt *app.AWS, awsCfg aws.Config, r StreamReader, failed streams.FailureDestination) error {
	arn, err := rt.StreamARN(ctx)
	if err != nil {
		return err
	}
	p, err := streams.New(dynamodbstreams.NewFromConfig(awsCfg), r.Handler, streams.Config{
		StreamARN: arn, Region: awsCfg.Region, OnFailure: failed,
		StartingPosition: r.StartingPosition, PollInterval: r.PollInterval,
	}, rt.Logger().With("consumer", r.Name))
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
