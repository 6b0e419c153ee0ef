package dynamodb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamer/streamer/events"
)

// Store is the DynamoDB events.Store. It is safe for concurrent use.
type Store struct {
	client *dynamodb.Client
	table  string
	retry  retrier
}

var _ events.Store = (*Store)(nil)

// Option tunes New.
type Option func(*Store)

// WithRetryPolicy replaces DefaultRetryPolicy. MaxAttempts below 1 is
// taken as 1 (no retries).
func WithRetryPolicy(p RetryPolicy) Option {
	return func(s *Store) {
		p.MaxAttempts = max(p.MaxAttempts, 1)
		s.retry.Policy = p
	}
}

// New returns the store of the events table named table (see TableInput),
// reached through client.
//
// The Store retries transient failures itself (see RetryPolicy) and turns
// the SDK's own retries off for its calls, so that attempts are bounded in
// one place and a write retried after an ambiguous failure is recognised.
func New(client *dynamodb.Client, table string, opts ...Option) *Store {
	s := &Store{client: client, table: table, retry: newRetrier(DefaultRetryPolicy)}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Table is the name of the store's table.
func (s *Store) Table() string { return s.table }

// noSDKRetry disables the SDK's retryer for one call: the Store's policy
// does the retrying.
func noSDKRetry(o *dynamodb.Options) { o.Retryer = aws.NopRetryer{} }

// keyNames are the expression attribute names of the key.
var keyNames = map[string]string{"#s": AttrStream, "#v": AttrVersion}

func key(stream string, version int64) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrStream: str(stream), AttrVersion: num(version)}
}

// Append implements events.Store. It reads the item at expectedVersion
// (consistently) for the head, runs events.Prepare, and writes the events
// with attribute_not_exists conditions: one PutItem for one event, one
// TransactWriteItems for several, so that a concurrent writer that got
// there first makes the whole call fail with ErrVersionConflict.
func (s *Store) Append(ctx context.Context, stream string, expectedVersion int64, evs ...events.Event) ([]events.Event, error) {
	fail := func(err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w: %w", ctxErr, err)
		}
		return &events.StoreError{Op: "append", Stream: stream, Version: expectedVersion, Err: err}
	}
	if expectedVersion < 0 {
		return nil, fail(fmt.Errorf("%w: expected version %d is negative", events.ErrVersionConflict, expectedVersion))
	}
	if err := precheck(stream, evs); err != nil {
		return nil, fail(err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fail(err)
	}
	head, err := s.head(ctx, stream, expectedVersion)
	if err != nil {
		return nil, fail(err)
	}
	stored, states, err := events.Prepare(stream, head, evs, time.Now())
	if err != nil {
		// A rule judged against a stale head: the stream has moved on, and
		// that is the caller's real problem.
		if errors.Is(err, events.ErrInvalidTransition) {
			if moved, merr := s.exists(ctx, stream, expectedVersion+1); merr == nil && moved {
				return nil, fail(fmt.Errorf("%w: the stream is past version %d (and the events would break a rule there: %v)",
					events.ErrVersionConflict, expectedVersion, err))
			}
		}
		return nil, fail(err)
	}
	items := make([]map[string]types.AttributeValue, len(stored))
	for i, e := range stored {
		if items[i], err = marshalItem(e, states[i]); err != nil {
			return nil, fail(err)
		}
		if err := checkItem(e, items[i]); err != nil {
			return nil, fail(err)
		}
	}
	if err := s.write(ctx, stream, stored, items); err != nil {
		return nil, fail(err)
	}
	return stored, nil
}

// precheck rejects, before any call to DynamoDB, what no head could make
// acceptable: a bad stream name, too many events, an event whose envelope
// is over the limit even before the store stamps it.
func precheck(stream string, evs []events.Event) error {
	if _, _, err := events.ParseStream(stream); err != nil {
		return err
	}
	if len(evs) > events.MaxAppendEvents {
		return fmt.Errorf("%w: %d events, at most %d", events.ErrTooManyEvents, len(evs), events.MaxAppendEvents)
	}
	for i, e := range evs {
		if enc, err := events.Encode(e); err == nil && len(enc) > events.MaxEventSize {
			return fmt.Errorf("%w: %s (event %d of the append) is %d bytes encoded, the limit is %d (DynamoDB's 400 KB item limit less bookkeeping)",
				events.ErrEventTooLarge, e.Type, i+1, len(enc), events.MaxEventSize)
		}
	}
	return nil
}

// head reads what Prepare needs of the stream at version: its hash and the
// state after it. A missing item is a conflict: the stream is shorter than
// the caller thinks.
func (s *Store) head(ctx context.Context, stream string, version int64) (events.Head, error) {
	if version == 0 {
		return events.Head{}, nil
	}
	out, err := retrying(s.retry, func(ctx context.Context, _ int) (*dynamodb.GetItemOutput, error) {
		return s.client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:                aws.String(s.table),
			Key:                      key(stream, version),
			ConsistentRead:           aws.Bool(true),
			ProjectionExpression:     aws.String("#h, #st"),
			ExpressionAttributeNames: map[string]string{"#h": AttrHash, "#st": AttrState},
		}, noSDKRetry)
	})(ctx)
	if err != nil {
		return events.Head{}, err
	}
	if out.Item == nil {
		return events.Head{}, fmt.Errorf("%w: the stream has no version %d (it is shorter, or does not exist)", events.ErrVersionConflict, version)
	}
	d := decoder{item: out.Item}
	h := events.Head{Version: version, Hash: d.str(AttrHash, true)}
	st := d.str(AttrState, true)
	if d.err == nil {
		if err := json.Unmarshal([]byte(st), &h.State); err != nil {
			d.fail(AttrState, "%v", err)
		}
	}
	if d.err != nil {
		return events.Head{}, fmt.Errorf("%w: head item %s@%d: %v", events.ErrInvalidEvent, stream, version, d.err)
	}
	return h, nil
}

// exists reports whether stream has an item at version.
func (s *Store) exists(ctx context.Context, stream string, version int64) (bool, error) {
	id, err := s.idAt(ctx, stream, version)
	return id != "", err
}

// idAt is the ID of the event at stream@version, "" if there is none.
func (s *Store) idAt(ctx context.Context, stream string, version int64) (string, error) {
	out, err := retrying(s.retry, func(ctx context.Context, _ int) (*dynamodb.GetItemOutput, error) {
		return s.client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:                aws.String(s.table),
			Key:                      key(stream, version),
			ConsistentRead:           aws.Bool(true),
			ProjectionExpression:     aws.String("#v, #id"),
			ExpressionAttributeNames: map[string]string{"#v": AttrVersion, "#id": AttrID},
		}, noSDKRetry)
	})(ctx)
	if err != nil || out.Item == nil {
		return "", err
	}
	d := decoder{item: out.Item}
	return d.str(AttrID, false), nil
}

// write puts the items, each on condition that its key is free. A retry
// that fails its condition after an earlier attempt failed ambiguously (a
// timeout, a 5xx after the write) checks whether the item there is its own
// first event: then the earlier attempt committed, and the append
// succeeded exactly once.
func (s *Store) write(ctx context.Context, stream string, stored []events.Event, items []map[string]types.AttributeValue) error {
	versions := make([]int64, len(stored))
	for i, e := range stored {
		versions[i] = e.Version
	}
	cond := aws.String("attribute_not_exists(#s)")
	names := map[string]string{"#s": AttrStream}
	var call func(ctx context.Context) error
	if len(items) == 1 {
		in := &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: items[0], ConditionExpression: cond, ExpressionAttributeNames: names}
		call = func(ctx context.Context) error {
			_, err := s.client.PutItem(ctx, in, noSDKRetry)
			return err
		}
	} else {
		in := &dynamodb.TransactWriteItemsInput{
			// Same token on every attempt: DynamoDB treats a repeat of a
			// committed transaction within 10 minutes as a success. The last
			// event's hash covers the whole append.
			ClientRequestToken: aws.String(stored[len(stored)-1].Hash[:36]),
			TransactItems:      make([]types.TransactWriteItem, len(items)),
		}
		for i, item := range items {
			in.TransactItems[i] = types.TransactWriteItem{Put: &types.Put{
				TableName: aws.String(s.table), Item: item, ConditionExpression: cond, ExpressionAttributeNames: names,
			}}
		}
		call = func(ctx context.Context) error {
			_, err := s.client.TransactWriteItems(ctx, in, noSDKRetry)
			return err
		}
	}
	_, err := retrying(s.retry, func(ctx context.Context, attempt int) (struct{}, error) {
		err := writeError(call(ctx), versions)
		if attempt > 1 && errors.Is(err, events.ErrVersionConflict) {
			if id, ierr := s.idAt(ctx, stream, versions[0]); ierr == nil && id == stored[0].ID {
				return struct{}{}, nil
			}
		}
		return struct{}{}, err
	})(ctx)
	return err
}
