// Package streams is a DynamoDB Streams poller that drives a Lambda stream
// handler exactly as Lambda's event source mapping would: it lists the
// stream's shards (following shard lineage: a child is read only after its
// parent is drained), reads each with GetShardIterator/GetRecords, builds the
// awsevents.DynamoDBEvent Lambda sends, calls the handler, honours
// ReportBatchItemFailures (retrying from the lowest failed sequence number),
// retries a bounded number of times, then hands the batch to a failure
// destination and moves on. Expired iterators are re-acquired from the last
// checkpoint.
//
// It is how `streamer dev --aws-endpoint` runs against moto or a real
// account, and how the tests exercise the AWS path with the real Streams API.
// Checkpoints live in memory, like a fresh event source mapping: a restarted
// poller begins at its StartingPosition (TRIM_HORIZON re-delivers retained
// records, which idempotent consumers absorb).
package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/streamer/streamer/feed/lambda"
)

// API is the part of the DynamoDB Streams client the poller uses.
type API interface {
	DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// FailedBatch is what reaches the failure destination: the records that
// exhausted their retries, as the handler last saw them, and why.
type FailedBatch struct {
	ShardID  string
	Attempts int
	Reason   string
	Event    awsevents.DynamoDBEvent
}

// Config tunes a Poller. Zero values take Lambda's defaults where it has one.
type Config struct {
	StreamARN        string
	Region           string
	BatchSize        int32                   // records per GetRecords / invocation (default 100)
	MaxRetries       int                     // retries of a failing batch (default 5, like MaximumRetryAttempts)
	StartingPosition types.ShardIteratorType // TRIM_HORIZON (default) or LATEST
	PollInterval     time.Duration           // wait after an empty read (default 250ms)
	RefreshInterval  time.Duration           // how often to re-list shards (default 5s)
	MinBackoff       time.Duration           // first retry delay (default 50ms)
	MaxBackoff       time.Duration           // retry delay cap (default 5s)
	// OnFailure is the failure destination (required).
	OnFailure FailureDestination
}

// FailureDestination receives the batches that exhausted their retries;
// an error from it stops the poller (nothing may be dropped silently).
type FailureDestination func(ctx context.Context, fb FailedBatch) error

func (c Config) withDefaults() Config {
	if c.BatchSize <= 0 {
		c.BatchSize = 100
	}
	if c.MaxRetries <= 0 {
		c.MaxRetries = 5
	}
	if c.StartingPosition == "" {
		c.StartingPosition = types.ShardIteratorTypeTrimHorizon
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 250 * time.Millisecond
	}
	if c.RefreshInterval <= 0 {
		c.RefreshInterval = 5 * time.Second
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 50 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Second
	}
	return c
}

// Validate reports every configuration problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.StreamARN == "" {
		errs = append(errs, errors.New("streams: StreamARN is required"))
	}
	if c.OnFailure == nil {
		errs = append(errs, errors.New("streams: OnFailure (the failure destination) is required"))
	}
	if c.BatchSize > 1000 {
		errs = append(errs, fmt.Errorf("streams: BatchSize %d exceeds GetRecords' 1000", c.BatchSize))
	}
	return errors.Join(errs...)
}

// Poller drives one handler from one stream.
type Poller struct {
	api     API
	handler lambda.Handler
	cfg     Config
	log     *slog.Logger

	shards   []shardInfo
	state    map[string]*shardState
	finished map[string]bool
}

type shardState struct {
	iterator   string // current shard iterator; "" = acquire one
	checkpoint string // last sequence number fully handled
}

// New builds a poller; Run starts it.
func New(api API, handler lambda.Handler, cfg Config, logger *slog.Logger) (*Poller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Poller{api: api, handler: handler, cfg: cfg.withDefaults(), log: logger.With("stream", cfg.StreamARN),
		state: map[string]*shardState{}, finished: map[string]bool{}}, nil
}

// Run polls until ctx ends (returning ctx's error) or a non-retryable
// Streams API error occurs.
func (p *Poller) Run(ctx context.Context) error {
	var lastRefresh time.Time
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Since(lastRefresh) >= p.cfg.RefreshInterval || len(readyShards(p.shards, p.finished)) == 0 {
			if err := p.refresh(ctx); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if !retryable(err) {
					return fmt.Errorf("describe stream: %w", err)
				}
				p.log.WarnContext(ctx, "describe stream failed; retrying", "err", err)
			}
			lastRefresh = time.Now()
		}
		busy := false
		for _, id := range readyShards(p.shards, p.finished) {
			got, err := p.pollShard(ctx, id)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("shard %s: %w", id, err)
			}
			busy = busy || got
		}
		if !busy {
			if err := sleep(ctx, p.cfg.PollInterval); err != nil {
				return err
			}
		}
	}
}

func (p *Poller) refresh(ctx context.Context) error {
	var shards []shardInfo
	var start *string
	for {
		out, err := p.api.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(p.cfg.StreamARN), ExclusiveStartShardId: start})
		if err != nil {
			return err
		}
		if out.StreamDescription == nil {
			return errors.New("describe stream: empty description")
		}
		for _, s := range out.StreamDescription.Shards {
			shards = append(shards, shardInfo{ID: aws.ToString(s.ShardId), ParentID: aws.ToString(s.ParentShardId)})
		}
		start = out.StreamDescription.LastEvaluatedShardId
		if start == nil {
			break
		}
	}
	p.shards = shards
	for _, s := range shards {
		if p.state[s.ID] == nil {
			p.state[s.ID] = &shardState{}
		}
	}
	return nil
}

// pollShard reads one batch from a shard and hands it to the handler.
func (p *Poller) pollShard(ctx context.Context, id string) (bool, error) {
	st := p.state[id]
	if st.iterator == "" {
		in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(p.cfg.StreamARN), ShardId: aws.String(id), ShardIteratorType: p.cfg.StartingPosition}
		if st.checkpoint != "" {
			in.ShardIteratorType, in.SequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, aws.String(st.checkpoint)
		}
		out, err := p.api.GetShardIterator(ctx, in)
		if err != nil {
			var nf *types.ResourceNotFoundException
			if errors.As(err, &nf) { // shard trimmed away
				p.finished[id] = true
				return false, nil
			}
			if retryable(err) {
				p.log.WarnContext(ctx, "get shard iterator failed; retrying", "shard", id, "err", err)
				return false, nil
			}
			return false, err
		}
		st.iterator = aws.ToString(out.ShardIterator)
		if st.iterator == "" {
			p.finished[id] = true
			return false, nil
		}
	}
	out, err := p.api.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: aws.String(st.iterator), Limit: aws.Int32(p.cfg.BatchSize)})
	if err != nil {
		var expired *types.ExpiredIteratorException
		var trimmed *types.TrimmedDataAccessException
		switch {
		case errors.As(err, &expired):
			p.log.InfoContext(ctx, "shard iterator expired; re-acquiring from checkpoint", "shard", id, "checkpoint", st.checkpoint)
			st.iterator = ""
			return false, nil
		case errors.As(err, &trimmed):
			p.log.WarnContext(ctx, "records past the retention window were trimmed; resuming at the oldest record", "shard", id, "checkpoint", st.checkpoint)
			st.iterator, st.checkpoint = "", ""
			return false, nil
		case retryable(err):
			p.log.WarnContext(ctx, "get records failed; retrying", "shard", id, "err", err)
			return false, sleep(ctx, p.cfg.MinBackoff)
		}
		return false, err
	}
	next := aws.ToString(out.NextShardIterator)
	if len(out.Records) > 0 {
		if err := p.deliver(ctx, id, out.Records); err != nil {
			return false, err
		}
		st.checkpoint = aws.ToString(out.Records[len(out.Records)-1].Dynamodb.SequenceNumber)
	}
	st.iterator = next
	if next == "" {
		p.finished[id] = true // closed shard drained; its children may start
	}
	return len(out.Records) > 0, nil
}

// deliver invokes the handler until the batch succeeds, trimming it to the
// lowest failed record on a partial failure, or until MaxRetries, after
// which the remaining records go to the failure destination.
func (p *Poller) deliver(ctx context.Context, shard string, recs []types.Record) error {
	ev, err := ToLambdaEvent(p.cfg.StreamARN, p.cfg.Region, recs)
	if err != nil {
		return err
	}
	backoff := time.Duration(0)
	for attempt := 0; ; attempt++ {
		resp, herr := p.handler(ctx, ev)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		reason := ""
		switch {
		case herr != nil:
			reason = "function error: " + herr.Error()
		case len(resp.BatchItemFailures) > 0:
			idx := lowestFailed(ev.Records, resp.BatchItemFailures)
			if idx < 0 {
				reason = "batch item failure names a record not in the batch"
			} else {
				ev.Records = ev.Records[idx:]
				reason = "partial batch failure at " + ev.Records[0].Change.SequenceNumber
			}
		default:
			return nil
		}
		if attempt >= p.cfg.MaxRetries {
			p.log.ErrorContext(ctx, "batch exhausted its retries; sending to the failure destination", "shard", shard,
				"records", len(ev.Records), "attempts", attempt+1, "reason", reason)
			return p.cfg.OnFailure(ctx, FailedBatch{ShardID: shard, Attempts: attempt + 1, Reason: reason, Event: ev})
		}
		p.log.WarnContext(ctx, "batch failed; retrying", "shard", shard, "attempt", attempt+1, "reason", reason)
		backoff = min(max(2*backoff, p.cfg.MinBackoff), p.cfg.MaxBackoff)
		if err := sleep(ctx, backoff); err != nil {
			return err
		}
	}
}

// lowestFailed is the index of the earliest record named in failures, or -1
// if one names a record that is not in the batch.
func lowestFailed(recs []awsevents.DynamoDBEventRecord, failures []awsevents.DynamoDBBatchItemFailure) int {
	index := make(map[string]int, len(recs))
	for i, r := range recs {
		index[r.Change.SequenceNumber] = i
	}
	low := len(recs)
	for _, f := range failures {
		i, ok := index[f.ItemIdentifier]
		if !ok {
			return -1
		}
		low = min(low, i)
	}
	return low
}

func retryable(err error) bool {
	var limit *types.LimitExceededException
	var internal *types.InternalServerError
	return errors.As(err, &limit) || errors.As(err, &internal)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
