package dynamodb

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamer/streamer/events"
	eventsdynamodb "github.com/streamer/streamer/events/dynamodb"
	"github.com/streamer/streamer/projections"
)

// MaxSegments caps WithSegments.
const MaxSegments = 16

// Source is the resumable projections.Source of the DynamoDB event store:
// a parallel, strongly consistent Scan of the events table (see
// events/dynamodb for its item layout).
//
// DynamoDB keeps all items of a partition key in one segment, in sort-key
// order, so each stream's events come from one segment in version order;
// the segments' pages are handed to Replay's callback one at a time, each
// segment's in order, while every segment reads ahead. The checkpoint is,
// per segment, the key after which its last fully delivered page ended
// (or that it is done), so a Replay from a checkpoint starts each segment
// at the page it was in: events may come again, none is skipped. Events
// appended behind a segment's position after the rebuild began are not
// delivered, and need not be: the projector writes them to the generation
// being rebuilt.
type Source struct {
	client *dynamodb.Client
	table  string
	cfg    config
}

var _ projections.Source = (*Source)(nil)

// NewSource returns the Source of the events table named table. It takes
// WithSegments, WithPageSize and WithRetryPolicy.
func NewSource(client *dynamodb.Client, table string, opts ...Option) *Source {
	return &Source{client: client, table: table, cfg: newConfig(opts)}
}

// scanPosition is one segment's place in a checkpoint.
type scanPosition struct {
	// Stream and Version are the events table key after which the segment
	// continues; empty at its start.
	Stream  string `json:"k,omitempty"`
	Version int64  `json:"n,omitempty"`
	// Done: the segment was read to its end.
	Done bool `json:"d,omitempty"`
	// Read counts the events of its fully delivered pages, for Remaining.
	Read int64 `json:"c,omitempty"`
}

// scanCheckpoint is what a checkpoint string encodes (JSON, base64url).
type scanCheckpoint struct {
	Format   int            `json:"f"`
	Segments []scanPosition `json:"s"`
}

const checkpointFormat = 1

func (s *Source) decode(cp string) (scanCheckpoint, error) {
	if cp == "" {
		return scanCheckpoint{Format: checkpointFormat, Segments: make([]scanPosition, s.cfg.segments)}, nil
	}
	var c scanCheckpoint
	b, err := base64.RawURLEncoding.DecodeString(cp)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err == nil && (c.Format != checkpointFormat || len(c.Segments) < 1 || len(c.Segments) > MaxSegments) {
		err = fmt.Errorf("format %d with %d segments", c.Format, len(c.Segments))
	}
	if err != nil {
		return scanCheckpoint{}, fmt.Errorf("rebuild checkpoint %q is not a DynamoDB scan position: %v", cp, err)
	}
	return c, nil
}

func (c scanCheckpoint) encode() string {
	b, err := json.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("encode scan checkpoint: %v", err)) // plain strings and numbers
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// scanPage is one page of one segment.
type scanPage struct {
	segment int
	evs     []events.Event
	next    scanPosition // the segment's position after the page
	err     error
}

// Replay implements projections.Source.
func (s *Source) Replay(ctx context.Context, checkpoint string, fn func(events.Event, string) error) error {
	cp, err := s.decode(checkpoint)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	total := len(cp.Segments)
	pages := make(chan scanPage, total)
	var wg sync.WaitGroup
	for seg, pos := range cp.Segments {
		if pos.Done {
			continue
		}
		wg.Go(func() { s.scanSegment(ctx, seg, total, pos, pages) })
	}
	go func() {
		wg.Wait()
		close(pages)
	}()
	var first error
	for p := range pages {
		if first != nil {
			continue // draining: the segments are stopping
		}
		if p.err != nil {
			first = fmt.Errorf("replay events table %s, segment %d of %d: %w", s.table, p.segment, total, p.err)
			cancel()
			continue
		}
		// Within the page, resuming must read the page again; after its last
		// event, the segment continues after it.
		during := cp.encode()
		cp.Segments = slices.Clone(cp.Segments)
		cp.Segments[p.segment] = p.next
		after := cp.encode()
		for i, e := range p.evs {
			next := during
			if i == len(p.evs)-1 {
				next = after
			}
			if err := fn(e, next); err != nil {
				first = err
				cancel()
				break
			}
		}
	}
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// scanSegment reads one segment from pos page by page into pages, until
// its end, an error, or ctx ends.
func (s *Source) scanSegment(ctx context.Context, segment, total int, pos scanPosition, pages chan<- scanPage) {
	send := func(p scanPage) bool {
		select {
		case pages <- p:
			return true
		case <-ctx.Done():
			return false
		}
	}
	in := &dynamodb.ScanInput{
		TableName:      aws.String(s.table),
		ConsistentRead: aws.Bool(true),
		Segment:        aws.Int32(int32(segment)),
		TotalSegments:  aws.Int32(int32(total)),
	}
	if s.cfg.pageSize > 0 {
		in.Limit = aws.Int32(s.cfg.pageSize)
	}
	for {
		if pos.Stream != "" {
			in.ExclusiveStartKey = item{eventsdynamodb.AttrStream: str(pos.Stream), eventsdynamodb.AttrVersion: num(pos.Version)}
		}
		out, err := do(ctx, s.cfg.retry, func(ctx context.Context) (*dynamodb.ScanOutput, error) {
			return s.client.Scan(ctx, in, noSDKRetry)
		})
		if err != nil {
			send(scanPage{segment: segment, err: err})
			return
		}
		p := scanPage{segment: segment, evs: make([]events.Event, 0, len(out.Items))}
		for _, it := range out.Items {
			e, _, err := eventsdynamodb.UnmarshalItem(it)
			if err != nil {
				send(scanPage{segment: segment, err: err})
				return
			}
			p.evs = append(p.evs, e)
		}
		pos.Read += int64(len(p.evs))
		if out.LastEvaluatedKey == nil {
			pos.Stream, pos.Version, pos.Done = "", 0, true
		} else if pos.Stream, pos.Version, err = lastKey(out.LastEvaluatedKey); err != nil {
			send(scanPage{segment: segment, err: err})
			return
		}
		p.next = pos
		if !send(p) || pos.Done {
			return
		}
	}
}

// lastKey decodes a LastEvaluatedKey of the events table.
func lastKey(k item) (string, int64, error) {
	stream, ok1 := k[eventsdynamodb.AttrStream].(*types.AttributeValueMemberS)
	version, ok2 := k[eventsdynamodb.AttrVersion].(*types.AttributeValueMemberN)
	if !ok1 || !ok2 {
		return "", 0, errors.New("the scan's last evaluated key is not an events table key")
	}
	v, err := strconv.ParseInt(version.Value, 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("the scan's last evaluated key has version %q", version.Value)
	}
	return stream.Value, v, nil
}

// Remaining implements projections.Source with the table's item count from
// DescribeTable (which DynamoDB refreshes about every six hours): for each
// segment not done, an even share of it less what the segment has
// delivered. -1 when the count is unknown (zero).
func (s *Source) Remaining(ctx context.Context, checkpoint string) (int64, error) {
	cp, err := s.decode(checkpoint)
	if err != nil {
		return -1, err
	}
	out, err := do(ctx, s.cfg.retry, func(ctx context.Context) (*dynamodb.DescribeTableOutput, error) {
		return s.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)}, noSDKRetry)
	})
	if err != nil {
		return -1, fmt.Errorf("count the events table %s: %w", s.table, err)
	}
	count := aws.ToInt64(out.Table.ItemCount)
	if count <= 0 {
		return -1, nil
	}
	share := (count + int64(len(cp.Segments)) - 1) / int64(len(cp.Segments))
	var left int64
	for _, pos := range cp.Segments {
		if !pos.Done {
			left += max(share-pos.Read, 0)
		}
	}
	return left, nil
}
