package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamer/streamer/internal/ddbutil"
)

// DefaultTableName is the views table's name when the configuration names
// none.
const DefaultTableName = "streamer-views"

// Key attributes and item kinds. The names are the table's contract with
// the SAM template and any operator tooling: never rename one.
const (
	AttrPK   = "pk"   // S, partition key: "meta", "<gen>#req#<id>", "<gen>#conn#<id>", "<gen>#sub#<requestId>"
	AttrSK   = "sk"   // S, sort key: SKView for views and Meta, the connection ID for subscriptions
	AttrKind = "kind" // S: KindRequest, KindConnection, KindSubscription or KindMeta

	// SKView is the sort key of every view item and of the Meta item.
	SKView = "view"
	// MetaPK is the partition key of the one Meta item.
	MetaPK = "meta"

	KindRequest      = "request"
	KindConnection   = "connection"
	KindSubscription = "subscription"
	KindMeta         = "meta"
)

// Attributes of the view items (besides the keys). Times are RFC 3339 in
// UTC with nanoseconds (S) and absent when zero; empty strings are absent.
const (
	AttrID      = "id"      // S: request or connection ID
	AttrVersion = "version" // N: the view's last applied event version

	// Request views.
	AttrAction          = "action"          // S
	AttrStatus          = "status"          // S: also on connection views
	AttrPercentage      = "percentage"      // N
	AttrMessage         = "message"         // S
	AttrResult          = "result"          // S: the result JSON, byte for byte
	AttrError           = "error"           // M {code S, message S, retryable BOOL}; absent when there is none
	AttrOwner           = "owner"           // S
	AttrTenant          = "tenant"          // S: also on connection views
	AttrAttempt         = "attempt"         // N
	AttrCancelRequested = "cancelRequested" // BOOL
	AttrSubmittedAt     = "submittedAt"     // S
	AttrStartedAt       = "startedAt"       // S
	AttrUpdatedAt       = "updatedAt"       // S: also on the Meta item
	AttrCompletedAt     = "completedAt"     // S

	// Connection views.
	AttrUser          = "user"          // S
	AttrCloseReason   = "closeReason"   // S
	AttrConnectedAt   = "connectedAt"   // S
	AttrLastSeen      = "lastSeen"      // S
	AttrExpiresAtTime = "expiresAtTime" // S: ExpiresAt exactly (TTLAttribute holds it in whole seconds)
	AttrSubscriptions = "subscriptions" // S: JSON object, request ID → version subscribed from

	// Subscription index items.
	AttrRequest = "request" // S: the request ID of a subscription item

	// The Meta item.
	AttrActive     = "active"     // S
	AttrRebuilding = "rebuilding" // S
	AttrPrevious   = "previous"   // S
	AttrEpoch      = "epoch"      // N: what fenced writes check
	AttrCheckpoint = "checkpoint" // S
	AttrDone       = "done"       // N
	AttrRevision   = "revision"   // N: SwapMeta's compare-and-swap counter
	AttrViews      = "views"      // S: the view selection of the rebuild in progress
)

// TTLAttribute is the table's time-to-live attribute: ExpiresAt in Unix
// epoch seconds (N), rounded up so DynamoDB never deletes a view before it
// expired, on connection views and on their subscription items.
const TTLAttribute = "expiresAt"

// Global secondary indexes and their key attributes. Every index key holds
// the generation, so generations never see each other's entries; key parts
// that are free text (tenant, owner, user) are escaped so that no two
// combinations make the same key.
const (
	// IndexOwner lists a tenant's requests of one owner:
	// hash AttrOwnerKey "<gen>#<tenant>#<owner>", range AttrListSort.
	// Keys only.
	IndexOwner = "byOwner"
	// IndexStatus lists the requests in one status:
	// hash AttrStatusKey "<gen>#<status>", range AttrListSort. Keys and
	// AttrTenant, for the tenant filter.
	IndexStatus = "byStatus"
	// IndexUser lists the open connections of a user: hash AttrUserKey
	// "<gen>#<tenant>#<user>", set only while the connection is open (a
	// sparse index). Keys only.
	IndexUser = "byUser"
	// IndexExpiry lists connection views by expiry: hash AttrExpiryKey
	// "<gen>#exp#<shard>" (ExpiryShards write shards), range AttrExpirySort.
	// Keys only.
	IndexExpiry = "byExpiry"

	AttrOwnerKey   = "ownerKey"   // S
	AttrStatusKey  = "statusKey"  // S
	AttrListSort   = "listSort"   // S: "<20-digit SubmittedAt order key>#<request ID>"
	AttrUserKey    = "userKey"    // S
	AttrExpiryKey  = "expiryKey"  // S
	AttrExpirySort = "expirySort" // S: "<20-digit ExpiresAt order key>#<connection ID>"
)

// ExpiryShards is the number of IndexExpiry partitions per generation: a
// connection's expiry entry goes to one chosen by a hash of its ID, so
// that opening and closing connections do not all write one index
// partition. ExpiredConnections queries them all.
const ExpiryShards = 4

// tableWait bounds how long CreateTable waits for the table to become
// ACTIVE.
const tableWait = 5 * time.Minute

// indexDefs are the table's GSIs: name, hash, range, projected non-key
// attributes.
var indexDefs = []struct {
	name, hash, rng string
	include         []string
}{
	{IndexOwner, AttrOwnerKey, AttrListSort, nil},
	{IndexStatus, AttrStatusKey, AttrListSort, []string{AttrTenant}},
	{IndexUser, AttrUserKey, "", nil},
	{IndexExpiry, AttrExpiryKey, AttrExpirySort, nil},
}

// TableInput is the definition of a views table named name: key (pk S
// HASH, sk S RANGE), the four GSIs (IndexOwner, IndexStatus, IndexUser,
// IndexExpiry) and on-demand billing. Its time to live is TimeToLive. It is
// the one source of truth for `streamer tables create`, the tests and the
// SAM template.
func TableInput(name string) *dynamodb.CreateTableInput {
	in := &dynamodb.CreateTableInput{
		TableName: aws.String(name),
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(AttrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(AttrSK), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
	}
	defined := []string{AttrPK, AttrSK}
	for _, ix := range indexDefs {
		gsi := types.GlobalSecondaryIndex{
			IndexName:  aws.String(ix.name),
			KeySchema:  []types.KeySchemaElement{{AttributeName: aws.String(ix.hash), KeyType: types.KeyTypeHash}},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}
		if ix.rng != "" {
			gsi.KeySchema = append(gsi.KeySchema, types.KeySchemaElement{AttributeName: aws.String(ix.rng), KeyType: types.KeyTypeRange})
		}
		if len(ix.include) > 0 {
			gsi.Projection = &types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: ix.include}
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, gsi)
		for _, a := range []string{ix.hash, ix.rng} {
			if a != "" && !slices.Contains(defined, a) {
				defined = append(defined, a)
			}
		}
	}
	for _, a := range defined {
		in.AttributeDefinitions = append(in.AttributeDefinitions,
			types.AttributeDefinition{AttributeName: aws.String(a), AttributeType: types.ScalarAttributeTypeS})
	}
	return in
}

// TimeToLive is the time-to-live setting of the views table named name:
// enabled on TTLAttribute.
func TimeToLive(name string) *dynamodb.UpdateTimeToLiveInput {
	return &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(TTLAttribute),
			Enabled:       aws.Bool(true),
		},
	}
}

// CreateTable creates the views table name if it does not exist, waits
// until it is ACTIVE, and enables its time to live. It is idempotent: an
// existing table is fine if its keys and indexes are the views table's
// (otherwise it says what differs), and TTL already enabled on
// TTLAttribute is left alone (enabled on another attribute is an error:
// DynamoDB allows one TTL attribute per table).
func CreateTable(ctx context.Context, client *dynamodb.Client, name string) error {
	desc, err := ddbutil.CreateTable(ctx, client, TableInput(name), tableWait)
	if err != nil {
		return err
	}
	if err := checkTable(desc); err != nil {
		return err
	}
	return enableTTL(ctx, client, name)
}

// enableTTL turns the table's time to live on unless it is on already.
func enableTTL(ctx context.Context, client *dynamodb.Client, name string) error {
	d, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	if err != nil {
		return fmt.Errorf("describe time to live of %s: %w", name, err)
	}
	if desc := d.TimeToLiveDescription; desc != nil {
		switch desc.TimeToLiveStatus {
		case types.TimeToLiveStatusEnabled, types.TimeToLiveStatusEnabling:
			if attr := aws.ToString(desc.AttributeName); attr != TTLAttribute {
				return fmt.Errorf("table %s has time to live on attribute %q, want %q", name, attr, TTLAttribute)
			}
			return nil
		}
	}
	if _, err := client.UpdateTimeToLive(ctx, TimeToLive(name)); err != nil {
		return fmt.Errorf("enable time to live on %s: %w", name, err)
	}
	return nil
}

// checkTable reports how an existing table differs from TableInput.
func checkTable(t *types.TableDescription) error {
	want := TableInput(aws.ToString(t.TableName))
	attrTypes := map[string]types.ScalarAttributeType{}
	for _, a := range t.AttributeDefinitions {
		attrTypes[aws.ToString(a.AttributeName)] = a.AttributeType
	}
	var problems []error
	if got, exp := keyString(t.KeySchema), keyString(want.KeySchema); got != exp || attrTypes[AttrPK] != types.ScalarAttributeTypeS || attrTypes[AttrSK] != types.ScalarAttributeTypeS {
		problems = append(problems, fmt.Errorf("key schema is %s, want pk S HASH, sk S RANGE", got))
	}
	have := map[string]types.GlobalSecondaryIndexDescription{}
	for _, g := range t.GlobalSecondaryIndexes {
		have[aws.ToString(g.IndexName)] = g
	}
	for _, g := range want.GlobalSecondaryIndexes {
		name := aws.ToString(g.IndexName)
		got, ok := have[name]
		if !ok {
			problems = append(problems, fmt.Errorf("index %s is missing", name))
			continue
		}
		if gk, wk := keyString(got.KeySchema), keyString(g.KeySchema); gk != wk {
			problems = append(problems, fmt.Errorf("index %s has key %s, want %s", name, gk, wk))
		}
		for _, k := range g.KeySchema {
			if attrTypes[aws.ToString(k.AttributeName)] != types.ScalarAttributeTypeS {
				problems = append(problems, fmt.Errorf("index %s key %s is not of type S", name, aws.ToString(k.AttributeName)))
			}
		}
		if !projects(got.Projection, g.Projection) {
			problems = append(problems, fmt.Errorf("index %s does not project %v", name, g.Projection.NonKeyAttributes))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("table %s exists but is not a views table: %w", aws.ToString(t.TableName), errors.Join(problems...))
	}
	return nil
}

// projects reports whether an index projection got covers want.
func projects(got, want *types.Projection) bool {
	if got == nil {
		return want.ProjectionType == types.ProjectionTypeKeysOnly
	}
	if got.ProjectionType == types.ProjectionTypeAll {
		return true
	}
	for _, a := range want.NonKeyAttributes {
		if !slices.Contains(got.NonKeyAttributes, a) {
			return false
		}
	}
	return true
}

func keyString(ks []types.KeySchemaElement) string {
	s := ""
	for i, k := range ks {
		if i > 0 {
			s += ", "
		}
		s += aws.ToString(k.AttributeName) + " " + string(k.KeyType)
	}
	return s
}
