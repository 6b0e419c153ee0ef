package dynamodb

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/streamer/streamer/projections"
)

// CopyViews implements projections.Generations: a parallel, strongly
// consistent Scan of the table for the source generation's view items of
// the kind (partition keys starting "<from>#req#" or "<from>#conn#"), each
// page written to the target generation through PutNewer — its fence
// checked once per page, request views with a PutItem conditional on
// "absent or older", connection views with their subscription index
// changes in one transaction each. The user, owner, status and expiry
// index keys are attributes of the view items, rewritten for the target
// generation as the views are.
func (v *Views) CopyViews(ctx context.Context, kind projections.ViewKind, from, to string, fence int64) (int64, error) {
	if err := kind.Validate(); err != nil {
		return 0, fmt.Errorf("copy views: %w", err)
	}
	if err := checkGeneration(from); err != nil {
		return 0, fmt.Errorf("copy views: %w", err)
	}
	if from == to {
		return 0, fmt.Errorf("copy views from generation %q to itself", from)
	}
	dst, err := v.Store(to, fence)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, k := range kind.Kinds() {
		n, err := v.copyKind(ctx, dst, k, from)
		total += n
		if err != nil {
			return total, fmt.Errorf("copy %s views from generation %s to %s: %w", k, from, to, err)
		}
	}
	return total, nil
}

// copyKind copies the views of one kind, in parallel Scan segments.
func (v *Views) copyKind(ctx context.Context, dst *Store, kind projections.ViewKind, from string) (int64, error) {
	prefix := requestPK(from, "")
	if kind == projections.ViewConnections {
		prefix = connectionPK(from, "")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Each segment's PutNewer writes WithConcurrency views at once: few
	// segments keep the total bounded.
	segments := min(v.cfg.concurrency, 4)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		first  error
		copied atomic.Int64
	)
	for seg := range segments {
		wg.Go(func() {
			if err := v.copySegment(ctx, dst, kind, prefix, int32(seg), int32(segments), &copied); err != nil {
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
	return copied.Load(), first
}

// copySegment scans one segment for the items under prefix and writes each
// page's views to dst.
func (v *Views) copySegment(ctx context.Context, dst *Store, kind projections.ViewKind, prefix string, segment, total int32, copied *atomic.Int64) error {
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(v.table),
		ConsistentRead:            aws.Bool(true),
		Segment:                   aws.Int32(segment),
		TotalSegments:             aws.Int32(total),
		FilterExpression:          aws.String("begins_with(#pk, :p) AND #sk = :view"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#sk": AttrSK},
		ExpressionAttributeValues: item{":p": str(prefix), ":view": str(SKView)},
	}
	if v.cfg.pageSize > 0 {
		in.Limit = aws.Int32(v.cfg.pageSize)
	}
	for {
		out, err := do(ctx, v.cfg.retry, func(ctx context.Context) (*dynamodb.ScanOutput, error) {
			return v.client.Scan(ctx, in, noSDKRetry)
		})
		if err != nil {
			return err
		}
		var b projections.Batch
		for _, it := range out.Items {
			if kind == projections.ViewRequests {
				r, err := unmarshalRequest(it)
				if err != nil {
					return err
				}
				b.Requests = append(b.Requests, r)
			} else {
				c, err := unmarshalConnection(it)
				if err != nil {
					return err
				}
				b.Connections = append(b.Connections, c)
			}
		}
		if err := dst.PutNewer(ctx, b); err != nil {
			return err
		}
		copied.Add(int64(b.Len()))
		if out.LastEvaluatedKey == nil {
			return ctx.Err()
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}
