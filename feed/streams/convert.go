package streams

import (
	"fmt"
	"strconv"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// ToLambdaEvent builds the awsevents.DynamoDBEvent that Lambda's event
// source mapping would deliver for records read from streamARN.
func ToLambdaEvent(streamARN string, region string, recs []types.Record) (awsevents.DynamoDBEvent, error) {
	out := awsevents.DynamoDBEvent{Records: make([]awsevents.DynamoDBEventRecord, 0, len(recs))}
	for _, r := range recs {
		lr, err := toLambdaRecord(streamARN, region, r)
		if err != nil {
			return awsevents.DynamoDBEvent{}, err
		}
		out.Records = append(out.Records, lr)
	}
	return out, nil
}

func toLambdaRecord(streamARN, region string, r types.Record) (awsevents.DynamoDBEventRecord, error) {
	lr := awsevents.DynamoDBEventRecord{
		AWSRegion:      aws.ToString(r.AwsRegion),
		EventID:        aws.ToString(r.EventID),
		EventName:      string(r.EventName),
		EventSource:    aws.ToString(r.EventSource),
		EventVersion:   aws.ToString(r.EventVersion),
		EventSourceArn: streamARN,
	}
	if lr.AWSRegion == "" {
		lr.AWSRegion = region
	}
	if lr.EventSource == "" {
		lr.EventSource = "aws:dynamodb"
	}
	if r.Dynamodb == nil {
		return lr, fmt.Errorf("stream record %s has no dynamodb body", lr.EventID)
	}
	d := r.Dynamodb
	var err error
	lr.Change.SequenceNumber = aws.ToString(d.SequenceNumber)
	lr.Change.StreamViewType = string(d.StreamViewType)
	if d.SizeBytes != nil {
		lr.Change.SizeBytes = *d.SizeBytes
	}
	if d.ApproximateCreationDateTime != nil {
		lr.Change.ApproximateCreationDateTime = awsevents.SecondsEpochTime{Time: *d.ApproximateCreationDateTime}
	}
	if lr.Change.Keys, err = toLambdaMap(d.Keys); err != nil {
		return lr, err
	}
	if lr.Change.NewImage, err = toLambdaMap(d.NewImage); err != nil {
		return lr, err
	}
	if lr.Change.OldImage, err = toLambdaMap(d.OldImage); err != nil {
		return lr, err
	}
	return lr, nil
}

func toLambdaMap(m map[string]types.AttributeValue) (map[string]awsevents.DynamoDBAttributeValue, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]awsevents.DynamoDBAttributeValue, len(m))
	for k, v := range m {
		lv, err := toLambdaValue(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = lv
	}
	return out, nil
}

func toLambdaValue(v types.AttributeValue) (awsevents.DynamoDBAttributeValue, error) {
	switch t := v.(type) {
	case *types.AttributeValueMemberS:
		return awsevents.NewStringAttribute(t.Value), nil
	case *types.AttributeValueMemberN:
		if _, err := strconv.ParseFloat(t.Value, 64); err != nil {
			return awsevents.DynamoDBAttributeValue{}, fmt.Errorf("bad number %q", t.Value)
		}
		return awsevents.NewNumberAttribute(t.Value), nil
	case *types.AttributeValueMemberB:
		return awsevents.NewBinaryAttribute(t.Value), nil
	case *types.AttributeValueMemberBOOL:
		return awsevents.NewBooleanAttribute(t.Value), nil
	case *types.AttributeValueMemberNULL:
		return awsevents.NewNullAttribute(), nil
	case *types.AttributeValueMemberSS:
		return awsevents.NewStringSetAttribute(t.Value), nil
	case *types.AttributeValueMemberNS:
		return awsevents.NewNumberSetAttribute(t.Value), nil
	case *types.AttributeValueMemberBS:
		return awsevents.NewBinarySetAttribute(t.Value), nil
	case *types.AttributeValueMemberL:
		l := make([]awsevents.DynamoDBAttributeValue, len(t.Value))
		for i, e := range t.Value {
			lv, err := toLambdaValue(e)
			if err != nil {
				return awsevents.DynamoDBAttributeValue{}, err
			}
			l[i] = lv
		}
		return awsevents.NewListAttribute(l), nil
	case *types.AttributeValueMemberM:
		m, err := toLambdaMap(t.Value)
		if err != nil {
			return awsevents.DynamoDBAttributeValue{}, err
		}
		return awsevents.NewMapAttribute(m), nil
	}
	return awsevents.DynamoDBAttributeValue{}, fmt.Errorf("unsupported attribute value %T", v)
}
