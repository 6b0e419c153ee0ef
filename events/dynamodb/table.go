package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamer/streamer/internal/ddbutil"
)

// Attribute names of an event item. They are the table's contract with the
// SAM template, the stream consumers and any operator tooling: never rename
// one.
const (
	AttrStream   = "stream"   // S, partition key: the stream name
	AttrVersion  = "version"  // N, sort key: 1-based, gapless per stream
	AttrID       = "id"       // S: event ID (UUIDv7)
	AttrType     = "type"     // S: event type, e.g. "request.progress"
	AttrSchema   = "schema"   // N: schema version of data
	AttrTime     = "time"     // S: RFC 3339 UTC with up to nanoseconds
	AttrMeta     = "meta"     // M of S: the non-empty fields of events.Meta
	AttrData     = "data"     // S: the event's JSON data, byte for byte
	AttrPrevHash = "prevHash" // S: hash of version-1; absent for version 1
	AttrHash     = "hash"     // S: hex SHA-256 of the audit chain
	AttrState    = "state"    // S: JSON of the events.State after this event
)

// Keys of the meta map: the JSON names of events.Meta's fields.
const (
	MetaActor         = "actor"
	MetaTenant        = "tenant"
	MetaCorrelationID = "correlationId"
	MetaCausationID   = "causationId"
	MetaTraceID       = "traceId"
	MetaSource        = "source"
)

// tableWait bounds how long CreateTable waits for a new table to become
// ACTIVE.
const tableWait = 5 * time.Minute

// TableInput is the definition of an events table named name: key
// (stream S HASH, version N RANGE), on-demand billing, and a stream with
// NEW_IMAGE records for the change feed. It is the one source of truth for
// `streamer tables create` and the tests; the SAM template is checked
// against it.
func TableInput(name string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(AttrStream), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrVersion), AttributeType: types.ScalarAttributeTypeN},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(AttrStream), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(AttrVersion), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
		StreamSpecification: &types.StreamSpecification{
			StreamEnabled:  aws.Bool(true),
			StreamViewType: types.StreamViewTypeNewImage,
		},
	}
}

// CreateTable creates the events table name if it does not exist and waits
// until it is ACTIVE. An existing table is fine if its key schema is the
// events table's and its stream carries new images; otherwise CreateTable
// says what differs rather than letting the store fail later.
func CreateTable(ctx context.Context, client *dynamodb.Client, name string) error {
	desc, err := ddbutil.CreateTable(ctx, client, TableInput(name), tableWait)
	if err != nil {
		return err
	}
	return checkTable(desc)
}

// checkTable reports how an existing table differs from TableInput.
func checkTable(t *types.TableDescription) error {
	var problems []error
	keys := map[string]types.KeyType{}
	for _, k := range t.KeySchema {
		keys[aws.ToString(k.AttributeName)] = k.KeyType
	}
	attrTypes := map[string]types.ScalarAttributeType{}
	for _, a := range t.AttributeDefinitions {
		attrTypes[aws.ToString(a.AttributeName)] = a.AttributeType
	}
	want := TableInput(aws.ToString(t.TableName))
	if len(keys) != len(want.KeySchema) {
		problems = append(problems, fmt.Errorf("key schema has %d attributes, want %d", len(keys), len(want.KeySchema)))
	}
	for i, k := range want.KeySchema {
		name := aws.ToString(k.AttributeName)
		if keys[name] != k.KeyType || attrTypes[name] != want.AttributeDefinitions[i].AttributeType {
			problems = append(problems, fmt.Errorf("key %s is %s %s, want %s %s", name,
				attrTypes[name], keys[name], want.AttributeDefinitions[i].AttributeType, k.KeyType))
		}
	}
	s := t.StreamSpecification
	if s == nil || !aws.ToBool(s.StreamEnabled) ||
		(s.StreamViewType != types.StreamViewTypeNewImage && s.StreamViewType != types.StreamViewTypeNewAndOldImages) {
		problems = append(problems, errors.New("its stream is not enabled with NEW_IMAGE (or NEW_AND_OLD_IMAGES) records"))
	}
	if len(problems) > 0 {
		return fmt.Errorf("table %s exists but is not an events table: %w", aws.ToString(t.TableName), errors.Join(problems...))
	}
	return nil
}
