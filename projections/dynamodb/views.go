package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/streamer/streamer/projections"
)

// Views is the DynamoDB view backend: every generation of the views, their
// indexes and the Meta record in one table (see TableInput). It implements
// projections.Generations and is safe for concurrent use.
type Views struct {
	client *dynamodb.Client
	table  string
	cfg    config
}

var _ projections.Generations = (*Views)(nil)

// config holds the knobs of Views and Source.
type config struct {
	retry       retrier
	concurrency int   // parallel writes of PutNewer, parallel segments of Drop
	segments    int   // Source: parallel Scan segments
	pageSize    int32 // Source and CopyViews: items per Scan request; 0: DynamoDB's 1 MB pages
}

// Option tunes New and NewSource.
type Option func(*config)

// WithRetryPolicy replaces DefaultRetryPolicy. MaxAttempts below 1 is
// taken as 1 (no retries).
func WithRetryPolicy(p RetryPolicy) Option {
	return func(c *config) { c.retry = newRetrier(p) }
}

// WithConcurrency bounds the parallel requests of PutNewer and Drop;
// default 16.
func WithConcurrency(n int) Option { return func(c *config) { c.concurrency = max(n, 1) } }

// WithSegments sets the parallel Scan segments of a Source (1 to
// MaxSegments); default 4. A checkpoint keeps the segment count it was
// taken with.
func WithSegments(n int) Option {
	return func(c *config) { c.segments = min(max(n, 1), MaxSegments) }
}

// WithPageSize bounds the items of one Scan request of a Source, and of
// the Scan of CopyViews (items examined, before its filter); default (0)
// is DynamoDB's 1 MB pages.
func WithPageSize(n int) Option {
	return func(c *config) { c.pageSize = int32(min(max(n, 0), 1<<20)) }
}

func newConfig(opts []Option) config {
	c := config{retry: newRetrier(DefaultRetryPolicy), concurrency: 16, segments: 4}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// New returns the views stored in table (see TableInput), reached through
// client. Like the event store, it retries transient failures itself
// (RetryPolicy) and turns the SDK's retries off for its calls.
func New(client *dynamodb.Client, table string, opts ...Option) *Views {
	return &Views{client: client, table: table, cfg: newConfig(opts)}
}

// Table is the name of the views table.
func (v *Views) Table() string { return v.table }

// Meta implements projections.Generations with a strongly consistent read:
// a reader that has seen a switch never reads the old Meta again.
func (v *Views) Meta(ctx context.Context) (projections.Meta, error) {
	it, err := v.getItem(ctx, metaKey(), "")
	if err != nil {
		return projections.Meta{}, fmt.Errorf("read view meta: %w", err)
	}
	if it == nil {
		return projections.Meta{}, nil
	}
	return unmarshalMeta(it)
}

// SwapMeta implements projections.Generations: one Put conditional on the
// stored revision, sent as a TransactWriteItems for its idempotency token —
// a swap retried after an ambiguous failure (a timeout after DynamoDB
// applied it) then reports the success it was, instead of a conflict with
// itself.
func (v *Views) SwapMeta(ctx context.Context, expectedRevision int64, next projections.Meta) (projections.Meta, error) {
	next.Revision = expectedRevision + 1
	next.UpdatedAt = next.UpdatedAt.UTC()
	if err := checkTimes(next.UpdatedAt); err != nil {
		return projections.Meta{}, fmt.Errorf("write view meta: %w", err)
	}
	put := &types.Put{TableName: aws.String(v.table), Item: marshalMeta(next)}
	if expectedRevision == 0 {
		put.ConditionExpression = aws.String("attribute_not_exists(#pk)")
		put.ExpressionAttributeNames = map[string]string{"#pk": AttrPK}
	} else {
		put.ConditionExpression = aws.String("#r = :r")
		put.ExpressionAttributeNames = map[string]string{"#r": AttrRevision}
		put.ExpressionAttributeValues = item{":r": num(expectedRevision)}
	}
	err := v.transact(ctx, []types.TransactWriteItem{{Put: put}}, 0)
	if err != nil {
		return projections.Meta{}, fmt.Errorf("write view meta at revision %d: %w", expectedRevision, err)
	}
	return next, nil
}

// Open implements projections.Generations. Generation names must be
// non-empty and hold no '#' (the key separator).
func (v *Views) Open(_ context.Context, gen string, fence int64) (projections.ViewStore, error) {
	return v.Store(gen, fence)
}

// Store is Open with its concrete type.
func (v *Views) Store(gen string, fence int64) (*Store, error) {
	if err := checkGeneration(gen); err != nil {
		return nil, err
	}
	if fence < 0 {
		return nil, fmt.Errorf("open view generation %s: fence %d < 0", gen, fence)
	}
	return &Store{v: v, gen: gen, fence: fence}, nil
}

func checkGeneration(gen string) error {
	if gen == "" || strings.ContainsRune(gen, '#') || len(gen) > 64 {
		return fmt.Errorf("view generation name %q: want 1 to 64 characters without '#'", gen)
	}
	return nil
}

// Drop implements projections.Generations: a parallel, consistent Scan for
// the items whose key starts with the generation's prefix, deleted in
// batches of 25. It is idempotent.
func (v *Views) Drop(ctx context.Context, gen string) error {
	if err := checkGeneration(gen); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	segments := min(v.cfg.concurrency, 8)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for seg := range segments {
		wg.Go(func() {
			if err := v.dropSegment(ctx, gen, int32(seg), int32(segments)); err != nil {
				mu.Lock()
				if first == nil {
					first = err
					cancel()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if first != nil {
		return fmt.Errorf("drop generation %s: %w", gen, first)
	}
	return nil
}

func (v *Views) dropSegment(ctx context.Context, gen string, segment, total int32) error {
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(v.table),
		ConsistentRead:            aws.Bool(true),
		Segment:                   aws.Int32(segment),
		TotalSegments:             aws.Int32(total),
		FilterExpression:          aws.String("begins_with(#pk, :p)"),
		ProjectionExpression:      aws.String("#pk, #sk"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#sk": AttrSK},
		ExpressionAttributeValues: item{":p": str(gen + "#")},
	}
	for {
		out, err := do(ctx, v.cfg.retry, func(ctx context.Context) (*dynamodb.ScanOutput, error) {
			return v.client.Scan(ctx, in, noSDKRetry)
		})
		if err != nil {
			return err
		}
		for chunk := range slices.Chunk(out.Items, 25) {
			if err := v.batchDelete(ctx, chunk); err != nil {
				return err
			}
		}
		if out.LastEvaluatedKey == nil {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// batchDelete deletes up to 25 items by key, resending what DynamoDB
// leaves unprocessed.
func (v *Views) batchDelete(ctx context.Context, keys []item) error {
	reqs := make([]types.WriteRequest, len(keys))
	for i, k := range keys {
		reqs[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}}
	}
	pending := map[string][]types.WriteRequest{v.table: reqs}
	for attempt := 1; len(pending[v.table]) > 0; attempt++ {
		out, err := do(ctx, v.cfg.retry, func(ctx context.Context) (*dynamodb.BatchWriteItemOutput, error) {
			return v.client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending}, noSDKRetry)
		})
		if err != nil {
			return err
		}
		pending = out.UnprocessedItems
		if len(pending[v.table]) == 0 {
			return nil
		}
		if err := v.unprocessedBackoff(ctx, attempt); err != nil {
			return fmt.Errorf("%d deletes left unprocessed: %w", len(pending[v.table]), err)
		}
	}
	return nil
}

// unprocessedBackoff sleeps before resending the unprocessed part of a
// batch (DynamoDB's sign of throttling), or gives up like the retrier.
func (v *Views) unprocessedBackoff(ctx context.Context, attempt int) error {
	if attempt >= v.cfg.retry.Policy.MaxAttempts {
		return fmt.Errorf("gave up after %d attempts", attempt)
	}
	return v.cfg.retry.Sleep(ctx, v.cfg.retry.Backoff(attempt))
}

// getItem reads one item with a strongly consistent read; nil when absent.
// projection, when not empty, lists the attribute names to read.
func (v *Views) getItem(ctx context.Context, k item, projection string, names ...string) (item, error) {
	in := &dynamodb.GetItemInput{TableName: aws.String(v.table), Key: k, ConsistentRead: aws.Bool(true)}
	if projection != "" {
		in.ProjectionExpression = aws.String(projection)
		in.ExpressionAttributeNames = map[string]string{}
		for i, n := range names {
			in.ExpressionAttributeNames[fmt.Sprintf("#a%d", i)] = n
		}
	}
	out, err := do(ctx, v.cfg.retry, func(ctx context.Context) (*dynamodb.GetItemOutput, error) {
		return v.client.GetItem(ctx, in, noSDKRetry)
	})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

// epoch reads the Meta epoch (0 when there is no Meta).
func (v *Views) epoch(ctx context.Context) (int64, error) {
	it, err := v.getItem(ctx, metaKey(), "#a0", AttrEpoch)
	if err != nil || it == nil {
		return 0, err
	}
	d := decoder{item: it}
	e := d.num(AttrEpoch, true)
	return e, d.err
}

// batchGet reads the items of keys (any number) with strongly consistent
// reads, by partition key; absent items are absent from the result.
func (v *Views) batchGet(ctx context.Context, keys []item) (map[string]item, error) {
	found := make(map[string]item, len(keys))
	for chunk := range slices.Chunk(keys, 100) {
		pending := map[string]types.KeysAndAttributes{v.table: {Keys: chunk, ConsistentRead: aws.Bool(true)}}
		for attempt := 1; len(pending[v.table].Keys) > 0; attempt++ {
			out, err := do(ctx, v.cfg.retry, func(ctx context.Context) (*dynamodb.BatchGetItemOutput, error) {
				return v.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending}, noSDKRetry)
			})
			if err != nil {
				return nil, err
			}
			for _, it := range out.Responses[v.table] {
				if pk, ok := it[AttrPK].(*types.AttributeValueMemberS); ok {
					found[pk.Value] = it
				}
			}
			pending = out.UnprocessedKeys
			if len(pending[v.table].Keys) == 0 {
				break
			}
			if err := v.unprocessedBackoff(ctx, attempt); err != nil {
				return nil, fmt.Errorf("%d reads left unprocessed: %w", len(pending[v.table].Keys), err)
			}
		}
	}
	return found, nil
}

// transact runs one TransactWriteItems of items — with fence > 0, plus a
// check that the Meta epoch is fence, as the last item — under an
// idempotency token that stays the same across retries, and maps a failed
// condition: the fence check's is ErrFenced, any other ErrViewConflict
// (both at once: ErrFenced). When DynamoDB does not say which condition
// failed and there is a fence, the Meta epoch is read to tell.
func (v *Views) transact(ctx context.Context, items []types.TransactWriteItem, fence int64) error {
	fenceIndex := -1
	if fence > 0 {
		fenceIndex = len(items)
		items = append(items, v.fenceCheck(fence))
	}
	if len(items) > maxTransactItems {
		return fmt.Errorf("%w: %d items, a transaction holds %d", ErrTooManyIndexChanges, len(items), maxTransactItems)
	}
	in := &dynamodb.TransactWriteItemsInput{TransactItems: items, ClientRequestToken: aws.String(uuid.NewString())}
	_, err := do(ctx, v.cfg.retry, func(ctx context.Context) (*dynamodb.TransactWriteItemsOutput, error) {
		return v.client.TransactWriteItems(ctx, in, noSDKRetry)
	})
	if err == nil {
		return nil
	}
	fenced, conflict, known := failedConditions(err, len(items), fenceIndex)
	if !known {
		if !conditionCancelled(err) {
			return err
		}
		// A condition failed, but DynamoDB did not say which: ask Meta.
		conflict = true
		if fence > 0 {
			e, rerr := v.epoch(ctx)
			if rerr != nil {
				return errors.Join(err, rerr)
			}
			fenced = e != fence
		}
	}
	if fenced {
		return fmt.Errorf("%w: the view meta epoch is no longer %d (%v)", projections.ErrFenced, fence, err)
	}
	if conflict {
		return fmt.Errorf("%w: %v", projections.ErrViewConflict, err)
	}
	return err
}

// fenceCheck is the transaction item that checks the Meta epoch.
func (v *Views) fenceCheck(fence int64) types.TransactWriteItem {
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName:                 aws.String(v.table),
		Key:                       metaKey(),
		ConditionExpression:       aws.String("#e = :fence"),
		ExpressionAttributeNames:  map[string]string{"#e": AttrEpoch},
		ExpressionAttributeValues: item{":fence": num(fence)},
	}}
}

// conditionCancelled reports whether err cancelled a transaction for a
// failed condition without saying which item's.
func conditionCancelled(err error) bool {
	var tce *types.TransactionCanceledException
	return errors.As(err, &tce) && strings.Contains(tce.ErrorMessage(), reasonConditionalCheckFailed)
}
