package dynamodb_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	eventsdynamodb "github.com/streamer/streamer/events/dynamodb"
	"github.com/streamer/streamer/internal/testenv"
	"github.com/streamer/streamer/projections"
	"github.com/streamer/streamer/projections/dynamodb"
)

// TestCreateTableIsIdempotent: creating the table twice is fine, and the
// table has the keys, indexes and TTL of TableInput and TimeToLive.
func TestCreateTableIsIdempotent(t *testing.T) {
	ctx := context.Background()
	c := client(t)
	name := newTable(t)
	if err := dynamodb.CreateTable(ctx, c, name); err != nil {
		t.Fatalf("second create: %v", err)
	}
	out, err := c.DescribeTable(ctx, &awsdynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	var indexes []string
	for _, g := range out.Table.GlobalSecondaryIndexes {
		indexes = append(indexes, aws.ToString(g.IndexName))
	}
	slices.Sort(indexes)
	if want := []string{dynamodb.IndexExpiry, dynamodb.IndexOwner, dynamodb.IndexStatus, dynamodb.IndexUser}; !slices.Equal(indexes, want) {
		t.Fatalf("indexes %q, want %q", indexes, want)
	}
	ttl, err := c.DescribeTimeToLive(ctx, &awsdynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if d := ttl.TimeToLiveDescription; d.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(d.AttributeName) != dynamodb.TTLAttribute {
		t.Fatalf("time to live %s on %q, want ENABLED on %q", d.TimeToLiveStatus, aws.ToString(d.AttributeName), dynamodb.TTLAttribute)
	}
	// Every index key attribute is defined once, as a string.
	in := dynamodb.TableInput(name)
	var defined []string
	for _, a := range in.AttributeDefinitions {
		defined = append(defined, aws.ToString(a.AttributeName))
		if a.AttributeType != types.ScalarAttributeTypeS {
			t.Fatalf("attribute %s is %s, want S", aws.ToString(a.AttributeName), a.AttributeType)
		}
	}
	if len(slices.Compact(slices.Sorted(slices.Values(defined)))) != len(defined) {
		t.Fatalf("attributes defined twice: %q", defined)
	}
}

// TestCreateTableRefusesOtherTables: an existing table with another key
// schema, or with TTL on another attribute, is reported, not used.
func TestCreateTableRefusesOtherTables(t *testing.T) {
	ctx := context.Background()
	c := client(t)
	t.Run("events table", func(t *testing.T) {
		name := testenv.UniqueName(t, "other")
		if err := eventsdynamodb.CreateTable(ctx, c, name); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			c.DeleteTable(context.Background(), &awsdynamodb.DeleteTableInput{TableName: aws.String(name)})
		})
		err := dynamodb.CreateTable(ctx, c, name)
		if err == nil || !strings.Contains(err.Error(), "not a views table") || !strings.Contains(err.Error(), dynamodb.IndexOwner) {
			t.Fatalf("create over an events table: %v", err)
		}
	})
	t.Run("TTL on another attribute", func(t *testing.T) {
		name := testenv.UniqueName(t, "other")
		if _, err := c.CreateTable(ctx, dynamodb.TableInput(name)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			c.DeleteTable(context.Background(), &awsdynamodb.DeleteTableInput{TableName: aws.String(name)})
		})
		other := dynamodb.TimeToLive(name)
		other.TimeToLiveSpecification.AttributeName = aws.String("deleteAt")
		if _, err := c.UpdateTimeToLive(ctx, other); err != nil {
			t.Fatal(err)
		}
		if err := dynamodb.CreateTable(ctx, c, name); err == nil || !strings.Contains(err.Error(), "deleteAt") {
			t.Fatalf("create over a table with TTL on deleteAt: %v", err)
		}
	})
}

// rawItem reads an item of the views table behind the store's back.
func rawItem(t *testing.T, v *dynamodb.Views, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := client(t).GetItem(context.Background(), &awsdynamodb.GetItemInput{TableName: aws.String(v.Table()), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{dynamodb.AttrPK: &types.AttributeValueMemberS{Value: pk}, dynamodb.AttrSK: &types.AttributeValueMemberS{Value: sk}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

// ttlOf is the TTL attribute of an item, -1 when absent.
func ttlOf(t *testing.T, it map[string]types.AttributeValue) int64 {
	t.Helper()
	av, ok := it[dynamodb.TTLAttribute]
	if !ok {
		return -1
	}
	n, ok := av.(*types.AttributeValueMemberN)
	if !ok {
		t.Fatalf("TTL attribute is %T, want N", av)
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		t.Fatalf("TTL attribute %q is not whole epoch seconds", n.Value)
	}
	return v
}

// TestTTLAttribute: connection views and their subscription items carry
// ExpiresAt as whole epoch seconds, rounded up, in the table's TTL
// attribute; a view without ExpiresAt has none.
func TestTTLAttribute(t *testing.T) {
	ctx := context.Background()
	views := newViews(t)
	s, _ := views.Open(ctx, "g1", 0)
	expires := time.Date(2030, 1, 2, 3, 4, 5, 500_000_000, time.UTC)
	c := projections.ConnectionView{ConnectionID: "c1", User: "alice", Tenant: "acme", Status: projections.ConnectionOpen,
		ExpiresAt: expires, Subscriptions: map[string]int64{"r1": 0, "r2": 3}, Version: 2}
	if err := s.PutConnection(ctx, c, 0); err != nil {
		t.Fatal(err)
	}
	want := expires.Unix() + 1
	if got := ttlOf(t, rawItem(t, views, "g1#conn#c1", dynamodb.SKView)); got != want {
		t.Fatalf("view TTL %d, want %d (%v rounded up)", got, want, expires)
	}
	for _, req := range []string{"r1", "r2"} {
		if got := ttlOf(t, rawItem(t, views, "g1#sub#"+req, "c1")); got != want {
			t.Fatalf("subscription %s TTL %d, want %d", req, got, want)
		}
	}
	// The view keeps ExpiresAt to the nanosecond.
	if got, err := s.GetConnection(ctx, "c1"); err != nil || !got.ExpiresAt.Equal(expires) {
		t.Fatalf("ExpiresAt read back %v, %v; want %v", got.ExpiresAt, err, expires)
	}
	// A later expiry moves the TTL of the view and of every entry.
	later := c
	later.ExpiresAt, later.Version = expires.Add(time.Hour).Truncate(time.Second), 3
	if err := s.PutConnection(ctx, later, 2); err != nil {
		t.Fatal(err)
	}
	want = later.ExpiresAt.Unix()
	if got := ttlOf(t, rawItem(t, views, "g1#sub#r2", "c1")); got != want {
		t.Fatalf("subscription TTL after the change %d, want %d", got, want)
	}
	bare := projections.ConnectionView{ConnectionID: "c2", Status: projections.ConnectionOpen, Version: 1}
	if err := s.PutConnection(ctx, bare, 0); err != nil {
		t.Fatal(err)
	}
	it := rawItem(t, views, "g1#conn#c2", dynamodb.SKView)
	if got := ttlOf(t, it); got != -1 {
		t.Fatalf("view without ExpiresAt has TTL %d", got)
	}
	if _, ok := it[dynamodb.AttrExpiryKey]; ok {
		t.Fatal("view without ExpiresAt is in the expiry index")
	}
}

// TestExpiredConnectionsJudgeTheTime: DynamoDB's TTL deletes late and the
// expiry index lags, so ExpiredConnections decides by the views' own
// ExpiresAt. An index entry that says "expired" for a view that is not is
// ignored.
func TestExpiredConnectionsJudgeTheTime(t *testing.T) {
	ctx := context.Background()
	views := newViews(t)
	s, _ := views.Open(ctx, "g1", 0)
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	mk := func(id string, expires time.Time) projections.ConnectionView {
		v := projections.ConnectionView{ConnectionID: id, Status: projections.ConnectionClosed, ExpiresAt: expires, Version: 1}
		if err := s.PutConnection(ctx, v, 0); err != nil {
			t.Fatal(err)
		}
		return v
	}
	gone := mk("c-gone", now.Add(-time.Nanosecond))
	// Expires within the second after now: not expired yet, which whole
	// TTL seconds could not tell.
	mk("c-soon", now.Add(300*time.Millisecond))
	// An index entry behind the view: it still says c-later expired long ago.
	mk("c-later", now.Add(time.Hour))
	_, err := client(t).UpdateItem(ctx, &awsdynamodb.UpdateItemInput{
		TableName: aws.String(views.Table()),
		Key: map[string]types.AttributeValue{dynamodb.AttrPK: &types.AttributeValueMemberS{Value: "g1#conn#c-later"},
			dynamodb.AttrSK: &types.AttributeValueMemberS{Value: dynamodb.SKView}},
		UpdateExpression:          aws.String("SET #es = :es"),
		ExpressionAttributeNames:  map[string]string{"#es": dynamodb.AttrExpirySort},
		ExpressionAttributeValues: map[string]types.AttributeValue{":es": &types.AttributeValueMemberS{Value: "00000000000000000001#c-later"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.ExpiredConnections(ctx, now, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ConnectionID != gone.ConnectionID {
		t.Fatalf("expired at %v: %+v; want only c-gone", now, got)
	}
	got, err = s.ExpiredConnections(ctx, now.Add(time.Second), 10)
	if err != nil || len(got) != 2 || got[1].ConnectionID != "c-soon" {
		t.Fatalf("expired a second later: %+v, %v; want c-gone, c-soon", got, err)
	}
}
