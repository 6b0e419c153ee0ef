package dynamodb

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamer/streamer/projections"
)

// Store is one generation of views; it implements projections.ViewStore.
// Every write is one TransactWriteItems: the view, guarded on its stored
// version, its subscription index entries, and — when the store is fenced
// — a check of the Meta epoch.
type Store struct {
	v     *Views
	gen   string
	fence int64 // Meta epoch every write is conditional on; 0: none
}

var _ projections.ViewStore = (*Store)(nil)

// Generation implements projections.ViewStore.
func (s *Store) Generation() string { return s.gen }

// GetRequest implements projections.ViewReader with a strongly consistent
// read.
func (s *Store) GetRequest(ctx context.Context, requestID string) (projections.RequestView, error) {
	it, err := s.v.getItem(ctx, key(requestPK(s.gen, requestID), SKView), "")
	if err != nil {
		return projections.RequestView{}, fmt.Errorf("get request view %s: %w", requestID, err)
	}
	if it == nil {
		return projections.RequestView{}, fmt.Errorf("get request view %s: %w", requestID, projections.ErrNotFound)
	}
	return unmarshalRequest(it)
}

// GetConnection implements projections.ViewReader with a strongly
// consistent read.
func (s *Store) GetConnection(ctx context.Context, connectionID string) (projections.ConnectionView, error) {
	v, found, err := s.loadConnection(ctx, connectionID)
	if err != nil {
		return projections.ConnectionView{}, fmt.Errorf("get connection view %s: %w", connectionID, err)
	}
	if !found {
		return projections.ConnectionView{}, fmt.Errorf("get connection view %s: %w", connectionID, projections.ErrNotFound)
	}
	return v, nil
}

// loadConnection reads the stored view of id, consistently.
func (s *Store) loadConnection(ctx context.Context, id string) (projections.ConnectionView, bool, error) {
	it, err := s.v.getItem(ctx, key(connectionPK(s.gen, id), SKView), "")
	if err != nil || it == nil {
		return projections.ConnectionView{}, false, err
	}
	v, err := unmarshalConnection(it)
	return v, err == nil, err
}

// PutRequest implements projections.ViewStore.
func (s *Store) PutRequest(ctx context.Context, v projections.RequestView, expectedVersion int64) error {
	it, err := marshalRequest(s.gen, v)
	if err != nil {
		return err
	}
	if err := s.v.transact(ctx, []types.TransactWriteItem{{Put: s.guardedPut(it, expectedVersion)}}, s.fence); err != nil {
		return s.writeError("request view "+v.RequestID, expectedVersion, err)
	}
	return nil
}

// guardedPut puts it if the stored view is at expected (0: absent).
func (s *Store) guardedPut(it item, expected int64) *types.Put {
	p := &types.Put{TableName: aws.String(s.v.table), Item: it}
	p.ConditionExpression, p.ExpressionAttributeNames, p.ExpressionAttributeValues = guard(expected)
	return p
}

// guard is the condition "the stored view is at expected".
func guard(expected int64) (*string, map[string]string, item) {
	if expected == 0 {
		return aws.String("attribute_not_exists(#pk)"), map[string]string{"#pk": AttrPK}, nil
	}
	return aws.String("#v = :expected"), map[string]string{"#v": AttrVersion}, item{":expected": num(expected)}
}

// writeError adds the write's context to an error of transact.
func (s *Store) writeError(what string, expected int64, err error) error {
	return fmt.Errorf("write %s in generation %s at expected version %d: %w", what, s.gen, expected, err)
}

// mismatch is the error of a write whose expected version a read already
// contradicted: ErrFenced if the store is fenced and the epoch moved on
// (what the write would have said first), else ErrViewConflict.
func (s *Store) mismatch(ctx context.Context, what string, expected, stored int64) error {
	if s.fence > 0 {
		e, err := s.v.epoch(ctx)
		if err != nil {
			return s.writeError(what, expected, err)
		}
		if e != s.fence {
			return s.writeError(what, expected, fmt.Errorf("%w: the view meta epoch is %d, not %d", projections.ErrFenced, e, s.fence))
		}
	}
	return s.writeError(what, expected, fmt.Errorf("%w: the stored view is at version %d", projections.ErrViewConflict, stored))
}

// DeleteConnection implements projections.ViewStore: the view (guarded on
// expectedVersion) and its subscription index entries in one transaction.
func (s *Store) DeleteConnection(ctx context.Context, connectionID string, expectedVersion int64) error {
	what := "connection view " + connectionID
	stored, found, err := s.loadConnection(ctx, connectionID)
	switch {
	case err != nil:
		return fmt.Errorf("delete %s: %w", what, err)
	case !found:
		return fmt.Errorf("delete %s: %w", what, projections.ErrNotFound)
	case stored.Version != expectedVersion:
		return s.mismatch(ctx, "deletion of "+what, expectedVersion, stored.Version)
	}
	del := &types.Delete{TableName: aws.String(s.v.table), Key: key(connectionPK(s.gen, connectionID), SKView)}
	del.ConditionExpression, del.ExpressionAttributeNames, del.ExpressionAttributeValues = guard(expectedVersion)
	items := append([]types.TransactWriteItem{{Delete: del}}, s.indexChanges(&stored, nil)...)
	err = s.v.transact(ctx, items, s.fence)
	if errors.Is(err, projections.ErrViewConflict) {
		if _, found, rerr := s.loadConnection(ctx, connectionID); rerr == nil && !found {
			return fmt.Errorf("delete %s: %w", what, projections.ErrNotFound)
		}
	}
	if err != nil {
		return s.writeError("deletion of "+what, expectedVersion, err)
	}
	return nil
}
