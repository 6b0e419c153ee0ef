package dynamodb_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	ddbstore "github.com/streamer/streamer/events/dynamodb"
	"github.com/streamer/streamer/internal/testenv"
)

func TestTableInput(t *testing.T) {
	in := ddbstore.TableInput("events")
	if aws.ToString(in.TableName) != "events" || in.BillingMode != types.BillingModePayPerRequest {
		t.Fatalf("table %q billing %q", aws.ToString(in.TableName), in.BillingMode)
	}
	keys := map[string]types.KeyType{}
	for _, k := range in.KeySchema {
		keys[aws.ToString(k.AttributeName)] = k.KeyType
	}
	if len(keys) != 2 || keys[ddbstore.AttrStream] != types.KeyTypeHash || keys[ddbstore.AttrVersion] != types.KeyTypeRange {
		t.Fatalf("key schema %v", keys)
	}
	attrs := map[string]types.ScalarAttributeType{}
	for _, a := range in.AttributeDefinitions {
		attrs[aws.ToString(a.AttributeName)] = a.AttributeType
	}
	if len(attrs) != 2 || attrs["stream"] != types.ScalarAttributeTypeS || attrs["version"] != types.ScalarAttributeTypeN {
		t.Fatalf("attribute definitions %v", attrs)
	}
	if s := in.StreamSpecification; s == nil || !aws.ToBool(s.StreamEnabled) || s.StreamViewType != types.StreamViewTypeNewImage {
		t.Fatalf("stream specification %+v", s)
	}
}

func TestCreateTable(t *testing.T) {
	ctx := context.Background()
	c := client(t)
	name := testenv.UniqueName(t, "events")
	for i := range 2 { // the second call finds the table and is fine with it
		if err := ddbstore.CreateTable(ctx, c, name); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	t.Cleanup(func() { c.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)}) })
	out, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Table.TableStatus != types.TableStatusActive || out.Table.LatestStreamArn == nil {
		t.Fatalf("table status %s, stream %v", out.Table.TableStatus, out.Table.LatestStreamArn)
	}

	// A table of the same name that is not an events table is reported.
	other := testenv.UniqueName(t, "other")
	_, err = c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(other),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(other)}) })
	err = ddbstore.CreateTable(ctx, c, other)
	if err == nil || !strings.Contains(err.Error(), "not an events table") || !strings.Contains(err.Error(), "key stream") ||
		!strings.Contains(err.Error(), "stream is not enabled") {
		t.Fatalf("CreateTable over a foreign table: %v", err)
	}
}
