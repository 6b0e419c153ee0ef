package dynamodb

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamer/streamer/events"
)

// MaxScanSegments caps ScanOptions.Segments.
const MaxScanSegments = 16

// maxQueryLimit caps the Limit of one Query request.
const maxQueryLimit = 1 << 20

// Load implements events.Store: a consistent Query of the stream from
// fromVersion on, following DynamoDB's 1 MB pages until limit events (and
// one more, to know whether there is a next page) are read.
func (s *Store) Load(ctx context.Context, stream string, fromVersion int64, limit int) (events.Page, error) {
	fail := func(err error) (events.Page, error) {
		return events.Page{}, &events.StoreError{Op: "load", Stream: stream, Version: fromVersion, Err: err}
	}
	if limit <= 0 {
		limit = events.DefaultPageSize
	}
	from := max(fromVersion, 1)
	var (
		evs   []events.Event
		start map[string]types.AttributeValue
	)
	for {
		// Ask for what is missing and one more (overflow-safe for huge limits).
		out, err := s.query(ctx, stream, from, min(limit-len(evs), maxQueryLimit-1)+1, start, false)
		if err != nil {
			return fail(err)
		}
		for _, item := range out.Items {
			e, _, err := UnmarshalItem(item)
			if err != nil {
				return fail(err)
			}
			evs = append(evs, e)
		}
		if len(evs) > limit || out.LastEvaluatedKey == nil {
			break
		}
		start = out.LastEvaluatedKey
	}
	if len(evs) == 0 {
		out, err := s.query(ctx, stream, 1, 1, nil, true)
		if err != nil {
			return fail(err)
		}
		if len(out.Items) == 0 {
			return fail(events.ErrStreamNotFound)
		}
		return events.Page{}, nil
	}
	page := events.Page{Events: evs}
	if len(evs) > limit {
		page.Events = evs[:limit]
		page.Next = evs[limit-1].Version + 1
	}
	return page, nil
}

// query is one Query request for stream's items from version from on, in
// version order; keysOnly projects the key alone.
func (s *Store) query(ctx context.Context, stream string, from int64, limit int, start map[string]types.AttributeValue, keysOnly bool) (*dynamodb.QueryOutput, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#s = :s AND #v >= :v"),
		ExpressionAttributeNames:  keyNames,
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": str(stream), ":v": num(from)},
		ConsistentRead:            aws.Bool(true),
		ScanIndexForward:          aws.Bool(true),
		Limit:                     aws.Int32(int32(limit)),
		ExclusiveStartKey:         start,
	}
	if keysOnly {
		in.ProjectionExpression = aws.String("#s, #v")
	}
	return retrying(s.retry, func(ctx context.Context, _ int) (*dynamodb.QueryOutput, error) {
		return s.client.Query(ctx, in, noSDKRetry)
	})(ctx)
}

// Scan implements events.Store with a parallel, consistent Scan of
// opts.Segments segments (1 to MaxScanSegments). DynamoDB puts all items of
// a partition key in one segment and returns them in sort-key order, and
// each segment's pages are handed over in order, so one stream's events
// arrive in version order. fn runs on the caller's goroutine, one event at
// a time, while the segments fetch their next page. The first error (fn's,
// returned as it is, or a read error) cancels the other segments.
func (s *Store) Scan(ctx context.Context, opts events.ScanOptions, fn func(events.Event) error) error {
	segments := min(max(opts.Segments, 1), MaxScanSegments)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type batch struct {
		evs []events.Event
		err error
	}
	batches := make(chan batch)
	send := func(b batch) bool {
		select {
		case batches <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var wg sync.WaitGroup
	for seg := range segments {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.scanSegment(ctx, int32(seg), int32(segments), func(evs []events.Event) bool {
				return send(batch{evs: evs})
			})
			if err != nil {
				send(batch{err: err})
			}
		}()
	}
	go func() {
		wg.Wait()
		close(batches)
	}()
	var first error
	for b := range batches {
		if first != nil {
			continue // draining: the segments are stopping
		}
		if b.err != nil {
			first = &events.StoreError{Op: "scan", Err: b.err}
			cancel()
			continue
		}
		for _, e := range b.evs {
			if err := fn(e); err != nil {
				first = err
				cancel()
				break
			}
		}
	}
	if first == nil && ctx.Err() != nil {
		// The caller's context ended between pages.
		first = &events.StoreError{Op: "scan", Err: context.Cause(ctx)}
	}
	return first
}

// scanSegment reads one segment page by page and hands each page's events
// to emit, stopping when emit returns false.
func (s *Store) scanSegment(ctx context.Context, segment, total int32, emit func([]events.Event) bool) error {
	var start map[string]types.AttributeValue
	for {
		in := &dynamodb.ScanInput{
			TableName:         aws.String(s.table),
			ConsistentRead:    aws.Bool(true),
			Segment:           aws.Int32(segment),
			TotalSegments:     aws.Int32(total),
			ExclusiveStartKey: start,
		}
		out, err := retrying(s.retry, func(ctx context.Context, _ int) (*dynamodb.ScanOutput, error) {
			return s.client.Scan(ctx, in, noSDKRetry)
		})(ctx)
		if err != nil {
			return err
		}
		evs := make([]events.Event, 0, len(out.Items))
		for _, item := range out.Items {
			e, _, err := UnmarshalItem(item)
			if err != nil {
				return err
			}
			evs = append(evs, e)
		}
		if len(evs) > 0 && !emit(evs) {
			return nil
		}
		if out.LastEvaluatedKey == nil {
			return nil
		}
		start = out.LastEvaluatedKey
	}
}
