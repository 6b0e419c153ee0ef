package dynamodb_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/streamer/streamer/internal/testenv"
	"github.com/streamer/streamer/projections"
	"github.com/streamer/streamer/projections/dynamodb"
	"github.com/streamer/streamer/projections/viewtest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// client is a DynamoDB client for moto with extra middleware. Its requests
// are serialised (testenv.Serial): moto does not isolate concurrent
// requests, and these tests race conditional writes and transactions.
func client(t testing.TB, apiOptions ...func(*middleware.Stack) error) *awsdynamodb.Client {
	return awsdynamodb.NewFromConfig(testenv.Serial(testenv.AWSConfig(t)), func(o *awsdynamodb.Options) {
		o.APIOptions = append(o.APIOptions, apiOptions...)
	})
}

// newTable creates a uniquely named views table, deleted after the test.
func newTable(t testing.TB) string {
	t.Helper()
	c := client(t)
	name := testenv.UniqueName(t, "views")
	if err := dynamodb.CreateTable(context.Background(), c, name); err != nil {
		t.Fatalf("create table: %v", err)
	}
	t.Cleanup(func() {
		if _, err := c.DeleteTable(context.Background(), &awsdynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
			t.Errorf("delete table %s: %v", name, err)
		}
	})
	return name
}

// newViews is the views of a fresh table; the client carries apiOptions.
func newViews(t testing.TB, apiOptions ...func(*middleware.Stack) error) *dynamodb.Views {
	t.Helper()
	return dynamodb.New(client(t, apiOptions...), newTable(t))
}

func TestConformance(t *testing.T) {
	viewtest.Run(t, viewtest.Harness{
		New: func(t *testing.T) projections.ViewStore {
			s, err := newViews(t).Open(context.Background(), "test", 0)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		// Small Scan pages, so that CopyViews reads several.
		Generations: func(t *testing.T) projections.Generations {
			return dynamodb.New(client(t), newTable(t), dynamodb.WithPageSize(5))
		},
		// The list, user and expiry queries read global secondary indexes,
		// which DynamoDB updates asynchronously (moto at once).
		Features: viewtest.Features{EventualIndexes: true},
	})
}
