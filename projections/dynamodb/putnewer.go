package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamer/streamer/projections"
)

// putNewerAttempts bounds how often PutNewer re-reads a connection view
// that another writer changed between its read and its write.
const putNewerAttempts = 16

// PutNewer implements projections.ViewStore, the bulk write of a rebuild.
// A fenced store first reads the Meta epoch once (what PutNewer writes is
// correct whatever the epoch; the fence only stops an abandoned rebuild,
// so one check per batch is enough). Then the views are written in
// parallel (WithConcurrency): a request view with one PutItem conditional
// on "absent or older"; a connection view by reading the stored one and
// writing it with its index changes in a transaction guarded on the
// version read, again if another writer got in between.
func (s *Store) PutNewer(ctx context.Context, b projections.Batch) error {
	if b.Len() == 0 {
		return nil
	}
	if s.fence > 0 {
		e, err := s.v.epoch(ctx)
		if err != nil {
			return fmt.Errorf("put newer views: read the fence: %w", err)
		}
		if e != s.fence {
			return fmt.Errorf("put newer views in generation %s: %w: the view meta epoch is %d, not %d", s.gen, projections.ErrFenced, e, s.fence)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, s.v.cfg.concurrency)
	)
	run := func(fn func() error) {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(); err != nil {
				mu.Lock()
				if first == nil {
					first = err
					cancel()
				}
				mu.Unlock()
			}
		})
	}
	for _, v := range b.Requests {
		run(func() error { return s.putNewerRequest(ctx, v) })
	}
	for _, v := range b.Connections {
		run(func() error { return s.putNewerConnection(ctx, v) })
	}
	wg.Wait()
	if first != nil {
		return fmt.Errorf("put newer views in generation %s: %w", s.gen, first)
	}
	return ctx.Err()
}

// putNewerRequest writes v unless the stored view is as new; a failed
// condition means it is.
func (s *Store) putNewerRequest(ctx context.Context, v projections.RequestView) error {
	it, err := marshalRequest(s.gen, v)
	if err != nil {
		return err
	}
	in := &dynamodb.PutItemInput{
		TableName:                 aws.String(s.v.table),
		Item:                      it,
		ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #v < :v"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#v": AttrVersion},
		ExpressionAttributeValues: item{":v": num(v.Version)},
	}
	_, err = do(ctx, s.v.cfg.retry, func(ctx context.Context) (*dynamodb.PutItemOutput, error) {
		return s.v.client.PutItem(ctx, in, noSDKRetry)
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil // the stored view is as new or newer
	}
	if err != nil {
		return fmt.Errorf("request view %s: %w", v.RequestID, err)
	}
	return nil
}

// putNewerConnection writes v with its index changes unless the stored
// view is as new.
func (s *Store) putNewerConnection(ctx context.Context, v projections.ConnectionView) error {
	it, err := marshalConnection(s.gen, v)
	if err != nil {
		return err
	}
	for range putNewerAttempts {
		stored, found, err := s.loadConnection(ctx, v.ConnectionID)
		if err != nil {
			return fmt.Errorf("connection view %s: %w", v.ConnectionID, err)
		}
		if found && stored.Version >= v.Version {
			return nil
		}
		var old *projections.ConnectionView
		if found {
			old = &stored
		}
		changes := s.indexChanges(old, &v)
		if len(changes) > MaxIndexChanges {
			return fmt.Errorf("connection view %s: %w: %d entries to change, at most %d", v.ConnectionID, ErrTooManyIndexChanges, len(changes), MaxIndexChanges)
		}
		items := append([]types.TransactWriteItem{{Put: s.guardedPut(it, stored.Version)}}, changes...)
		err = s.v.transact(ctx, items, 0)
		if err == nil {
			return nil
		}
		if !errors.Is(err, projections.ErrViewConflict) {
			return fmt.Errorf("connection view %s: %w", v.ConnectionID, err)
		}
		// Another writer moved the view between the read and the write:
		// read it again; it may be newer now.
	}
	return fmt.Errorf("connection view %s: still changing after %d attempts: %w", v.ConnectionID, putNewerAttempts, projections.ErrViewConflict)
}
