package dynamodb

import (
	"context"
	"encoding/base64"
	"fmt"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamer/streamer/projections"
)

// maxListRounds bounds the index queries of one list page: a status list
// filtered by tenant may need several to fill a page, and returns a short
// one (with a cursor) rather than read on.
const maxListRounds = 8

// RequestsByOwner implements projections.ViewReader with a Query of
// IndexOwner, newest first.
func (s *Store) RequestsByOwner(ctx context.Context, tenant, owner string, opts projections.ListOptions) (projections.RequestPage, error) {
	match := func(v projections.RequestView) bool { return v.Tenant == tenant && v.Owner == owner }
	return s.listRequests(ctx, IndexOwner, AttrOwnerKey, ownerKey(s.gen, tenant, owner), "", match, opts)
}

// RequestsByStatus implements projections.ViewReader with a Query of
// IndexStatus, newest first; the tenant, when given, is a filter on the
// index's projected tenant attribute.
func (s *Store) RequestsByStatus(ctx context.Context, tenant, status string, opts projections.ListOptions) (projections.RequestPage, error) {
	match := func(v projections.RequestView) bool {
		return v.Status == status && (tenant == "" || v.Tenant == tenant)
	}
	return s.listRequests(ctx, IndexStatus, AttrStatusKey, statusKey(s.gen, status), tenant, match, opts)
}

// listRequests reads one page of a request list. The index gives the
// page's keys in order (it projects keys only, so a progress update, which
// changes no index key, writes no index entry); the views are then read
// with strongly consistent BatchGetItem calls, and a view that no longer
// belongs to the list (the index lags) is left out. The cursor is the
// index sort key of the page's last entry.
func (s *Store) listRequests(ctx context.Context, index, hashAttr, hash, tenant string, match func(projections.RequestView) bool, opts projections.ListOptions) (projections.RequestPage, error) {
	limit := opts.EffectiveLimit()
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.v.table),
		IndexName:                 aws.String(index),
		KeyConditionExpression:    aws.String("#h = :h"),
		ExpressionAttributeNames:  map[string]string{"#h": hashAttr},
		ExpressionAttributeValues: item{":h": str(hash)},
		ScanIndexForward:          aws.Bool(false),
	}
	if tenant != "" {
		in.FilterExpression = aws.String("#t = :t")
		in.ExpressionAttributeNames["#t"] = AttrTenant
		in.ExpressionAttributeValues[":t"] = str(tenant)
	}
	if opts.Cursor != "" {
		sort, id, err := parseCursor(opts.Cursor)
		if err != nil {
			return projections.RequestPage{}, err
		}
		in.ExclusiveStartKey = item{AttrPK: str(requestPK(s.gen, id)), AttrSK: str(SKView), hashAttr: str(hash), AttrListSort: str(sort)}
	}
	// Ask for one entry more than the page holds, to know whether another
	// page follows without reading an empty one.
	var sorts []string
	for range maxListRounds {
		in.Limit = aws.Int32(int32(limit - len(sorts) + 1))
		out, err := do(ctx, s.v.cfg.retry, func(ctx context.Context) (*dynamodb.QueryOutput, error) {
			return s.v.client.Query(ctx, in, noSDKRetry)
		})
		if err != nil {
			return projections.RequestPage{}, fmt.Errorf("list request views: %w", err)
		}
		for _, it := range out.Items {
			if ls, ok := it[AttrListSort].(*types.AttributeValueMemberS); ok {
				sorts = append(sorts, ls.Value)
			}
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
		if len(sorts) > limit || in.ExclusiveStartKey == nil {
			break
		}
	}
	var page projections.RequestPage
	if len(sorts) > limit {
		sorts = sorts[:limit]
		page.Cursor = cursor(sorts[limit-1])
	} else if ls, ok := in.ExclusiveStartKey[AttrListSort].(*types.AttributeValueMemberS); ok {
		page.Cursor = cursor(ls.Value)
	}
	keys := make([]item, 0, len(sorts))
	pks := make([]string, 0, len(sorts))
	for _, ls := range sorts {
		if id, ok := parseSortKey(ls); ok {
			pk := requestPK(s.gen, id)
			keys, pks = append(keys, key(pk, SKView)), append(pks, pk)
		}
	}
	found, err := s.v.batchGet(ctx, keys)
	if err != nil {
		return projections.RequestPage{}, fmt.Errorf("list request views: %w", err)
	}
	for _, pk := range pks {
		it, ok := found[pk]
		if !ok {
			continue // deleted since the index saw it
		}
		v, err := unmarshalRequest(it)
		if err != nil {
			return projections.RequestPage{}, fmt.Errorf("list request views: %w", err)
		}
		if match(v) {
			page.Items = append(page.Items, v)
		}
	}
	return page, nil
}

// cursor encodes an index sort key opaquely.
func cursor(sort string) string { return base64.RawURLEncoding.EncodeToString([]byte(sort)) }

// parseCursor decodes cursor into the sort key and the request ID in it.
func parseCursor(c string) (sort, id string, err error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", projections.ErrInvalidCursor, err)
	}
	id, ok := parseSortKey(string(b))
	if !ok || !utf8.Valid(b) {
		return "", "", fmt.Errorf("%w: %q", projections.ErrInvalidCursor, c)
	}
	return string(b), id, nil
}
