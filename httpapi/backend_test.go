package httpapi_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamer/streamer/events"
	ddbevents "github.com/streamer/streamer/events/dynamodb"
	evsqlite "github.com/streamer/streamer/events/sqlite"
	"github.com/streamer/streamer/internal/testenv"
	"github.com/streamer/streamer/projections"
	ddbviews "github.com/streamer/streamer/projections/dynamodb"
	projsqlite "github.com/streamer/streamer/projections/sqlite"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// backend is an event store with its views, kept current by a projector
// that the test drives, and a way to alter a stored event behind the
// store's back.
type backend struct {
	name      string
	store     events.Store
	reader    *projections.Reader
	gens      projections.Generations
	projector *projections.Projector
	tamper    func(t *testing.T, stream string, version int64, data []byte)
}

// append appends evs to request id at expected and projects them at once,
// as the live projector would.
func (b *backend) append(t *testing.T, id string, expected int64, evs ...events.Event) []events.Event {
	t.Helper()
	ctx := context.Background()
	stored, err := b.store.Append(ctx, events.RequestStream(id), expected, evs...)
	if err != nil {
		t.Fatalf("append %s@%d: %v", id, expected, err)
	}
	if failures := b.projector.Handle(ctx, stored); len(failures) > 0 {
		t.Fatalf("project %s: %+v", id, failures)
	}
	return stored
}

func newBackend(t *testing.T, store events.Store, gens projections.Generations) *backend {
	t.Helper()
	if _, err := projections.Bootstrap(context.Background(), gens); err != nil {
		t.Fatal(err)
	}
	return &backend{store: store, reader: projections.NewReader(gens), gens: gens, projector: projections.NewProjector(store, gens)}
}

// sqliteBackend is the embedded backend in a temporary folder.
func sqliteBackend(t *testing.T) *backend {
	t.Helper()
	dir := t.TempDir()
	store, err := evsqlite.Open(filepath.Join(dir, "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	views, err := projsqlite.Open(context.Background(), filepath.Join(dir, "views.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { views.Close() })
	b := newBackend(t, store, views)
	b.name = "sqlite"
	b.tamper = func(t *testing.T, stream string, version int64, data []byte) {
		t.Helper()
		res, err := store.DB().Exec(`UPDATE events SET data = ? WHERE stream = ? AND version = ?`, data, stream, version)
		if err != nil {
			t.Fatalf("tamper %s@%d: %v", stream, version, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			t.Fatalf("tamper %s@%d: %d rows changed", stream, version, n)
		}
	}
	return b
}

// dynamoBackend is the AWS backend on fresh tables of the test's moto.
func dynamoBackend(t *testing.T) *backend {
	t.Helper()
	ctx := context.Background()
	client := dynamodb.NewFromConfig(testenv.Serial(testenv.AWSConfig(t)))
	evTable, viewTable := testenv.UniqueName(t, "ev"), testenv.UniqueName(t, "vw")
	if err := ddbevents.CreateTable(ctx, client, evTable); err != nil {
		t.Fatal(err)
	}
	if err := ddbviews.CreateTable(ctx, client, viewTable); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, name := range []string{evTable, viewTable} {
			if _, err := client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
				t.Errorf("delete table %s: %v", name, err)
			}
		}
	})
	b := newBackend(t, ddbevents.New(client, evTable), ddbviews.New(client, viewTable))
	b.name = "dynamodb"
	b.tamper = func(t *testing.T, stream string, version int64, data []byte) {
		t.Helper()
		_, err := client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(evTable),
			Key: map[string]types.AttributeValue{
				ddbevents.AttrStream:  &types.AttributeValueMemberS{Value: stream},
				ddbevents.AttrVersion: &types.AttributeValueMemberN{Value: fmt.Sprint(version)},
			},
			UpdateExpression:          aws.String("SET #d = :d"),
			ConditionExpression:       aws.String("attribute_exists(#d)"),
			ExpressionAttributeNames:  map[string]string{"#d": ddbevents.AttrData},
			ExpressionAttributeValues: map[string]types.AttributeValue{":d": &types.AttributeValueMemberS{Value: string(data)}},
		})
		if err != nil {
			t.Fatalf("tamper %s@%d: %v", stream, version, err)
		}
	}
	return b
}
