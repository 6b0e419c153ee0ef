package dynamodb

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	awsevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/internal/ddbutil"
)

// MaxItemSize is DynamoDB's limit on one item: attribute names and values
// together.
const MaxItemSize = 400 * 1024

// metaFields pairs each meta map key with its events.Meta field, in the
// order the audit hash lists them.
var metaFields = []struct {
	key string
	get func(*events.Meta) *string
}{
	{MetaActor, func(m *events.Meta) *string { return &m.Actor }},
	{MetaTenant, func(m *events.Meta) *string { return &m.Tenant }},
	{MetaCorrelationID, func(m *events.Meta) *string { return &m.CorrelationID }},
	{MetaCausationID, func(m *events.Meta) *string { return &m.CausationID }},
	{MetaTraceID, func(m *events.Meta) *string { return &m.TraceID }},
	{MetaSource, func(m *events.Meta) *string { return &m.Source }},
}

// MarshalItem is the item that stores e with s, the lifecycle State after
// it (see the package documentation for the layout). s must be a State that
// events.Prepare produced; a State JSON cannot encode (a NaN percentage)
// panics.
func MarshalItem(e events.Event, s events.State) map[string]types.AttributeValue {
	item, err := marshalItem(e, s)
	if err != nil {
		panic(fmt.Sprintf("dynamodb.MarshalItem: %v", err))
	}
	return item
}

func marshalItem(e events.Event, s events.State) (map[string]types.AttributeValue, error) {
	state, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("%w: state of %s@%d: %v", events.ErrInvalidEvent, e.StreamID, e.Version, err)
	}
	item := map[string]types.AttributeValue{
		AttrStream:  str(e.StreamID),
		AttrVersion: num(e.Version),
		AttrID:      str(e.ID),
		AttrType:    str(e.Type),
		AttrSchema:  num(int64(e.SchemaVersion)),
		AttrTime:    str(e.Time.UTC().Format(time.RFC3339Nano)),
		AttrData:    str(string(e.Data)),
		AttrHash:    str(e.Hash),
		AttrState:   str(string(state)),
	}
	if e.PrevHash != "" {
		item[AttrPrevHash] = str(e.PrevHash)
	}
	meta := map[string]types.AttributeValue{}
	for _, f := range metaFields {
		if v := *f.get(&e.Meta); v != "" {
			meta[f.key] = str(v)
		}
	}
	if len(meta) > 0 {
		item[AttrMeta] = &types.AttributeValueMemberM{Value: meta}
	}
	return item, nil
}

// UnmarshalItem decodes an item written by MarshalItem into the event and
// the State after it. A missing or mistyped attribute is ErrInvalidEvent.
func UnmarshalItem(item map[string]types.AttributeValue) (events.Event, events.State, error) {
	d := decoder{item: item}
	var (
		e     events.Event
		state events.State
	)
	e.StreamID = d.str(AttrStream, true)
	e.Version = d.num(AttrVersion)
	e.ID = d.str(AttrID, true)
	e.Type = d.str(AttrType, true)
	e.SchemaVersion = int(d.num(AttrSchema))
	ts := d.str(AttrTime, true)
	e.Data = json.RawMessage(d.str(AttrData, true))
	e.PrevHash = d.str(AttrPrevHash, false)
	e.Hash = d.str(AttrHash, true)
	st := d.str(AttrState, true)
	if av, ok := item[AttrMeta]; ok {
		m, ok := av.(*types.AttributeValueMemberM)
		if !ok {
			d.fail(AttrMeta, "is %s, want M", typeName(av))
		} else {
			md := decoder{item: m.Value, prefix: AttrMeta + "."}
			for _, f := range metaFields {
				*f.get(&e.Meta) = md.str(f.key, false)
			}
			if md.err != nil && d.err == nil {
				d.err = md.err
			}
		}
	}
	if d.err == nil {
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			d.fail(AttrTime, "%v", err)
		}
		e.Time = t.UTC()
	}
	if d.err == nil {
		if err := json.Unmarshal([]byte(st), &state); err != nil {
			d.fail(AttrState, "%v", err)
		}
	}
	if d.err != nil {
		return events.Event{}, events.State{}, fmt.Errorf("%w: item %s@%d: %v", events.ErrInvalidEvent, e.StreamID, e.Version, d.err)
	}
	return e, state, nil
}

// UnmarshalStreamImage decodes the NewImage of a DynamoDB Streams record,
// as Lambda delivers it in awsevents.DynamoDBEvent, into the event. It
// accepts exactly what UnmarshalItem accepts.
func UnmarshalStreamImage(image map[string]awsevents.DynamoDBAttributeValue) (events.Event, error) {
	item, err := fromStreamImage(image)
	if err != nil {
		return events.Event{}, fmt.Errorf("%w: stream image: %v", events.ErrInvalidEvent, err)
	}
	e, _, err := UnmarshalItem(item)
	return e, err
}

// fromStreamImage converts Lambda's attribute values into the SDK's.
func fromStreamImage(image map[string]awsevents.DynamoDBAttributeValue) (item map[string]types.AttributeValue, err error) {
	// The accessors of awsevents.DynamoDBAttributeValue panic on a value
	// whose type and content disagree (only a hand-built one can); a
	// malformed image is an error, not a crash.
	defer func() {
		if r := recover(); r != nil {
			item, err = nil, fmt.Errorf("malformed attribute value: %v", r)
		}
	}()
	item = make(map[string]types.AttributeValue, len(image))
	for k, v := range image {
		if item[k], err = fromStreamValue(v); err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
	}
	return item, nil
}

func fromStreamValue(v awsevents.DynamoDBAttributeValue) (types.AttributeValue, error) {
	switch v.DataType() {
	case awsevents.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}, nil
	case awsevents.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}, nil
	case awsevents.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}, nil
	case awsevents.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}, nil
	case awsevents.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case awsevents.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}, nil
	case awsevents.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}, nil
	case awsevents.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}, nil
	case awsevents.DataTypeMap:
		m := map[string]types.AttributeValue{}
		for k, x := range v.Map() {
			av, err := fromStreamValue(x)
			if err != nil {
				return nil, err
			}
			m[k] = av
		}
		return &types.AttributeValueMemberM{Value: m}, nil
	case awsevents.DataTypeList:
		l := make([]types.AttributeValue, 0, len(v.List()))
		for _, x := range v.List() {
			av, err := fromStreamValue(x)
			if err != nil {
				return nil, err
			}
			l = append(l, av)
		}
		return &types.AttributeValueMemberL{Value: l}, nil
	}
	return nil, fmt.Errorf("unknown data type %d", v.DataType())
}

// checkItem enforces what DynamoDB would reject or silently alter: an item
// over MaxItemSize, and strings that are not valid UTF-8 (the SDK's JSON
// encoding would replace the bad bytes, and the stored event would no
// longer match its hash).
func checkItem(e events.Event, item map[string]types.AttributeValue) error {
	for name, av := range item {
		if !validUTF8(av) {
			return fmt.Errorf("%w: %s at version %d: attribute %s is not valid UTF-8 (DynamoDB stores strings as UTF-8)",
				events.ErrInvalidEvent, e.Type, e.Version, name)
		}
	}
	if size := itemSize(item); size > MaxItemSize {
		return fmt.Errorf("%w: %s at version %d is %d bytes as a DynamoDB item, over the 400 KB item limit",
			events.ErrEventTooLarge, e.Type, e.Version, size)
	}
	return nil
}

func validUTF8(av types.AttributeValue) bool {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return utf8.ValidString(v.Value)
	case *types.AttributeValueMemberM:
		for k, x := range v.Value {
			if !utf8.ValidString(k) || !validUTF8(x) {
				return false
			}
		}
	}
	return true
}

// itemSize is an upper bound of DynamoDB's size of item.
var itemSize = ddbutil.ItemSize

func str(s string) types.AttributeValue { return ddbutil.S(s) }

func num(n int64) types.AttributeValue { return ddbutil.N(n) }

// decoder reads typed attributes of an item, remembering the first problem.
type decoder struct {
	item   map[string]types.AttributeValue
	prefix string
	err    error
}

func (d *decoder) fail(name, format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("attribute %s%s %s", d.prefix, name, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) str(name string, required bool) string {
	av, ok := d.item[name]
	if !ok {
		if required {
			d.fail(name, "is missing")
		}
		return ""
	}
	s, ok := av.(*types.AttributeValueMemberS)
	if !ok {
		d.fail(name, "is %s, want S", typeName(av))
		return ""
	}
	return s.Value
}

func (d *decoder) num(name string) int64 {
	av, ok := d.item[name]
	if !ok {
		d.fail(name, "is missing")
		return 0
	}
	v, ok := av.(*types.AttributeValueMemberN)
	if !ok {
		d.fail(name, "is %s, want N", typeName(av))
		return 0
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		d.fail(name, "is not an integer: %q", v.Value)
	}
	return n
}

func typeName(av types.AttributeValue) string {
	switch av.(type) {
	case *types.AttributeValueMemberS:
		return "S"
	case *types.AttributeValueMemberN:
		return "N"
	case *types.AttributeValueMemberB:
		return "B"
	case *types.AttributeValueMemberBOOL:
		return "BOOL"
	case *types.AttributeValueMemberNULL:
		return "NULL"
	case *types.AttributeValueMemberM:
		return "M"
	case *types.AttributeValueMemberL:
		return "L"
	case *types.AttributeValueMemberSS:
		return "SS"
	case *types.AttributeValueMemberNS:
		return "NS"
	case *types.AttributeValueMemberBS:
		return "BS"
	}
	return fmt.Sprintf("%T", av)
}
