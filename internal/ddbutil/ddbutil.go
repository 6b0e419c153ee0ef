// Package ddbutil holds what streamer's two DynamoDB adapters (the event
// store and the view store) do alike: creating a table idempotently and
// waiting for it, and sizing items against DynamoDB's 400 KB limit.
package ddbutil

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// CreateTable creates the table of in unless it exists (or is being
// created), then waits up to maxWait until it is ACTIVE and returns its
// description, for the caller to check that an existing table is the one
// it expects.
func CreateTable(ctx context.Context, client *dynamodb.Client, in *dynamodb.CreateTableInput, maxWait time.Duration) (*types.TableDescription, error) {
	name := aws.ToString(in.TableName)
	_, err := client.CreateTable(ctx, in)
	var inUse *types.ResourceInUseException
	switch {
	case err == nil:
	case errors.As(err, &inUse): // exists already, or is being created
	default:
		return nil, fmt.Errorf("create table %s: %w", name, err)
	}
	out, err := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 500*time.Millisecond, 10*time.Second
	}).WaitForOutput(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, maxWait)
	if err != nil {
		return nil, fmt.Errorf("wait for table %s to be active: %w", name, err)
	}
	return out.Table, nil
}

// ItemSize is an upper bound of DynamoDB's size of item: names plus
// values, numbers counted at their widest, maps with their 3-byte overhead
// and one byte per element.
func ItemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, av := range item {
		n += len(name) + ValueSize(av)
	}
	return n
}

// ValueSize is an upper bound of DynamoDB's size of av.
func ValueSize(av types.AttributeValue) int {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return len(v.Value)/2 + 2
	case *types.AttributeValueMemberM:
		n := 3
		for k, x := range v.Value {
			n += len(k) + ValueSize(x) + 1
		}
		return n
	}
	return 1
}

// S is a string attribute.
func S(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

// N is a number attribute.
func N(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}
