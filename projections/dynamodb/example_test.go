package dynamodb_test

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/streamer/streamer/projections/dynamodb"
)

// The views table: its key, its four indexes and its TTL attribute.
func ExampleTableInput() {
	in := dynamodb.TableInput(dynamodb.DefaultTableName)
	fmt.Print(aws.ToString(in.TableName), ":")
	for _, k := range in.KeySchema {
		fmt.Print(" ", aws.ToString(k.AttributeName), " ", k.KeyType)
	}
	fmt.Println(",", in.BillingMode)
	for _, g := range in.GlobalSecondaryIndexes {
		fmt.Print(aws.ToString(g.IndexName), ":")
		for _, k := range g.KeySchema {
			fmt.Print(" ", aws.ToString(k.AttributeName), " ", k.KeyType)
		}
		fmt.Println(", projects", g.Projection.ProjectionType, g.Projection.NonKeyAttributes)
	}
	fmt.Println("TTL:", aws.ToString(dynamodb.TimeToLive(dynamodb.DefaultTableName).TimeToLiveSpecification.AttributeName))
	// Output:
	// streamer-views: pk HASH sk RANGE, PAY_PER_REQUEST
	// byOwner: ownerKey HASH listSort RANGE, projects KEYS_ONLY []
	// byStatus: statusKey HASH listSort RANGE, projects INCLUDE [tenant]
	// byUser: userKey HASH, projects KEYS_ONLY []
	// byExpiry: expiryKey HASH expirySort RANGE, projects KEYS_ONLY []
	// TTL: expiresAt
}
