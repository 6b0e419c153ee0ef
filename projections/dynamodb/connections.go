package dynamodb

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamer/streamer/projections"
)

// PutConnection implements projections.ViewStore. Unless it inserts
// (expectedVersion 0), it reads the stored view (consistently; a version
// other than expectedVersion fails at once) to compute which subscription
// index entries to put and delete, then writes the view, guarded on
// expectedVersion, with those entries and the fence check in one
// TransactWriteItems. A write that would change more than MaxIndexChanges
// entries fails with ErrTooManyIndexChanges.
func (s *Store) PutConnection(ctx context.Context, v projections.ConnectionView, expectedVersion int64) error {
	what := "connection view " + v.ConnectionID
	it, err := marshalConnection(s.gen, v)
	if err != nil {
		return err
	}
	// An insert needs no read: nothing is indexed yet, and the put's
	// condition fails if a view exists after all.
	var old *projections.ConnectionView
	if expectedVersion > 0 {
		stored, found, err := s.loadConnection(ctx, v.ConnectionID)
		if err != nil {
			return fmt.Errorf("write %s: read the stored view: %w", what, err)
		}
		if !found || stored.Version != expectedVersion {
			return s.mismatch(ctx, what, expectedVersion, stored.Version)
		}
		old = &stored
	}
	changes := s.indexChanges(old, &v)
	if len(changes) > MaxIndexChanges {
		return s.writeError(what, expectedVersion, fmt.Errorf("%w: %d entries to change, at most %d (keep connections at %d subscriptions or fewer)",
			ErrTooManyIndexChanges, len(changes), MaxIndexChanges, MaxSubscriptions))
	}
	items := append([]types.TransactWriteItem{{Put: s.guardedPut(it, expectedVersion)}}, changes...)
	if err := s.v.transact(ctx, items, s.fence); err != nil {
		return s.writeError(what, expectedVersion, err)
	}
	return nil
}

// indexedSubscriptions are the requests a connection view is listed under
// in the subscriber index: its subscriptions while it is open, none once
// it is closed or deleted (nil).
func indexedSubscriptions(v *projections.ConnectionView) map[string]int64 {
	if v == nil || !v.Open() {
		return nil
	}
	return v.Subscriptions
}

// indexChanges are the subscriber index writes that take the entries of
// view old (nil: none stored) to those of view next (nil: deleted): a put
// for each new subscription, and for every kept one when the view's expiry
// (the entries' TTL) changed; a delete for each dropped one. They are
// sorted, so a transaction's items have a stable order.
func (s *Store) indexChanges(old, next *projections.ConnectionView) []types.TransactWriteItem {
	before, after := indexedSubscriptions(old), indexedSubscriptions(next)
	var oldTTL, newTTL int64
	if old != nil {
		oldTTL = ttlSeconds(old.ExpiresAt)
	}
	if next != nil {
		newTTL = ttlSeconds(next.ExpiresAt)
	}
	var out []types.TransactWriteItem
	for _, req := range slices.Sorted(maps.Keys(after)) {
		if _, kept := before[req]; kept && oldTTL == newTTL {
			continue
		}
		out = append(out, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.v.table), Item: subscriptionItem(s.gen, req, *next)}})
	}
	for _, req := range slices.Sorted(maps.Keys(before)) {
		if _, kept := after[req]; kept {
			continue
		}
		out = append(out, types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(s.v.table),
			Key: key(subscriptionPK(s.gen, req), old.ConnectionID)}})
	}
	return out
}

// Subscribers implements projections.ViewReader: a strongly consistent
// Query of the request's subscription items in the base table.
func (s *Store) Subscribers(ctx context.Context, requestID string) ([]string, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.v.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ProjectionExpression:      aws.String("#sk"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#sk": AttrSK},
		ExpressionAttributeValues: item{":pk": str(subscriptionPK(s.gen, requestID))},
		ConsistentRead:            aws.Bool(true),
	}
	ids, err := s.queryIDs(ctx, in, func(it item) (string, bool) {
		sk, ok := it[AttrSK].(*types.AttributeValueMemberS)
		if !ok {
			return "", false
		}
		return sk.Value, true
	})
	if err != nil {
		return nil, fmt.Errorf("subscribers of %s: %w", requestID, err)
	}
	return ids, nil
}

// UserConnections implements projections.ViewReader: a Query of the sparse
// IndexUser (eventually consistent).
func (s *Store) UserConnections(ctx context.Context, tenant, user string) ([]string, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.v.table),
		IndexName:                 aws.String(IndexUser),
		KeyConditionExpression:    aws.String("#uk = :uk"),
		ExpressionAttributeNames:  map[string]string{"#uk": AttrUserKey},
		ExpressionAttributeValues: item{":uk": str(userKey(s.gen, tenant, user))},
	}
	prefix := connectionPK(s.gen, "")
	ids, err := s.queryIDs(ctx, in, func(it item) (string, bool) {
		pk, ok := it[AttrPK].(*types.AttributeValueMemberS)
		if !ok || !strings.HasPrefix(pk.Value, prefix) {
			return "", false
		}
		return pk.Value[len(prefix):], true
	})
	if err != nil {
		return nil, fmt.Errorf("connections of %s/%s: %w", tenant, user, err)
	}
	return ids, nil
}

// queryIDs runs a Query to its end and returns the sorted IDs that id
// takes from its items.
func (s *Store) queryIDs(ctx context.Context, in *dynamodb.QueryInput, id func(item) (string, bool)) ([]string, error) {
	var out []string
	for {
		page, err := do(ctx, s.v.cfg.retry, func(ctx context.Context) (*dynamodb.QueryOutput, error) {
			return s.v.client.Query(ctx, in, noSDKRetry)
		})
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			if v, ok := id(it); ok {
				out = append(out, v)
			}
		}
		if page.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	slices.Sort(out)
	return out, nil
}

// ExpiredConnections implements projections.ViewStore. It queries each
// IndexExpiry shard for entries at or before now, soonest first, reads the
// views of the soonest limit of them consistently, and keeps those whose
// ExpiresAt is still at or before now: the index may lag the views, and
// DynamoDB's TTL deletes lazily, so the time is always judged here.
func (s *Store) ExpiredConnections(ctx context.Context, now time.Time, limit int) ([]projections.ConnectionView, error) {
	if limit <= 0 {
		limit = projections.DefaultListLimit
	}
	if err := checkTimes(now); err != nil {
		return nil, fmt.Errorf("list expired connection views: %w", err)
	}
	upper := orderKey(now.Add(time.Nanosecond)) // every sort key of a time ≤ now is below
	type entry struct{ sort, pk string }
	var entries []entry
	for shard := range ExpiryShards {
		in := &dynamodb.QueryInput{
			TableName:                 aws.String(s.v.table),
			IndexName:                 aws.String(IndexExpiry),
			KeyConditionExpression:    aws.String("#ek = :ek AND #es < :upper"),
			ExpressionAttributeNames:  map[string]string{"#ek": AttrExpiryKey, "#es": AttrExpirySort},
			ExpressionAttributeValues: item{":ek": str(expiryKey(s.gen, shard)), ":upper": str(upper)},
			ScanIndexForward:          aws.Bool(true),
			Limit:                     aws.Int32(int32(min(limit, 1<<20))),
		}
		for n := 0; n < limit; {
			page, err := do(ctx, s.v.cfg.retry, func(ctx context.Context) (*dynamodb.QueryOutput, error) {
				return s.v.client.Query(ctx, in, noSDKRetry)
			})
			if err != nil {
				return nil, fmt.Errorf("list expired connection views: %w", err)
			}
			for _, it := range page.Items {
				d := decoder{item: it}
				e := entry{sort: d.str(AttrExpirySort, true), pk: d.str(AttrPK, true)}
				if d.err == nil {
					entries, n = append(entries, e), n+1
				}
			}
			if page.LastEvaluatedKey == nil {
				break
			}
			in.ExclusiveStartKey = page.LastEvaluatedKey
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.sort, b.sort) })
	entries = entries[:min(len(entries), limit)]
	keys := make([]item, len(entries))
	for i, e := range entries {
		keys[i] = key(e.pk, SKView)
	}
	found, err := s.v.batchGet(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("list expired connection views: %w", err)
	}
	var out []projections.ConnectionView
	for _, e := range entries {
		it, ok := found[e.pk]
		if !ok {
			continue // deleted since the index saw it
		}
		v, err := unmarshalConnection(it)
		if err != nil {
			return nil, fmt.Errorf("list expired connection views: %w", err)
		}
		if !v.ExpiresAt.IsZero() && !v.ExpiresAt.After(now) {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b projections.ConnectionView) int {
		return cmp.Or(a.ExpiresAt.Compare(b.ExpiresAt), strings.Compare(a.ConnectionID, b.ConnectionID))
	})
	return out, nil
}
