package infra

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	ddbevents "github.com/streamer/streamer/events/dynamodb"
	ddbviews "github.com/streamer/streamer/projections/dynamodb"
)

// TableDef is a table definition reduced to what the template and the
// code's CreateTableInput both state, in a form that compares as strings.
type TableDef struct {
	Keys       string   // "pk HASH, sk RANGE"
	Attributes []string // "pk S", sorted
	Indexes    []string // "byStatus: statusKey HASH, listSort RANGE; INCLUDE [tenant]", sorted
	Billing    string   // PAY_PER_REQUEST
	Stream     string   // stream view type, "" for none
	TTL        string   // time-to-live attribute, "" for none
}

// CodeTables are the table definitions `streamer tables create` uses:
// events/dynamodb.TableInput, and projections/dynamodb.TableInput with
// projections/dynamodb.TimeToLive.
func CodeTables() (events, views TableDef) {
	events = fromInput(ddbevents.TableInput("events"), nil)
	views = fromInput(ddbviews.TableInput("views"), ddbviews.TimeToLive("views"))
	return events, views
}

func fromInput(in *dynamodb.CreateTableInput, ttl *dynamodb.UpdateTimeToLiveInput) TableDef {
	d := TableDef{Keys: keyString(in.KeySchema), Billing: string(in.BillingMode)}
	for _, a := range in.AttributeDefinitions {
		d.Attributes = append(d.Attributes, aws.ToString(a.AttributeName)+" "+string(a.AttributeType))
	}
	for _, g := range in.GlobalSecondaryIndexes {
		var nonKey []string
		ptype := ""
		if g.Projection != nil {
			ptype, nonKey = string(g.Projection.ProjectionType), g.Projection.NonKeyAttributes
		}
		d.Indexes = append(d.Indexes, indexString(aws.ToString(g.IndexName), keyString(g.KeySchema), ptype, nonKey))
	}
	if s := in.StreamSpecification; s != nil && aws.ToBool(s.StreamEnabled) {
		d.Stream = string(s.StreamViewType)
	}
	if ttl != nil && ttl.TimeToLiveSpecification != nil && aws.ToBool(ttl.TimeToLiveSpecification.Enabled) {
		d.TTL = aws.ToString(ttl.TimeToLiveSpecification.AttributeName)
	}
	d.sort()
	return d
}

// TemplateTable reads the definition of an AWS::DynamoDB::Table.
func TemplateTable(props map[string]any) TableDef {
	keyList := func(v any) []types.KeySchemaElement {
		var ks []types.KeySchemaElement
		for _, k := range List(v) {
			ks = append(ks, types.KeySchemaElement{AttributeName: aws.String(Str(Map(k)["AttributeName"])), KeyType: types.KeyType(Str(Map(k)["KeyType"]))})
		}
		return ks
	}
	d := TableDef{Keys: keyString(keyList(props["KeySchema"])), Billing: Str(props["BillingMode"])}
	if d.Billing == "" {
		d.Billing = string(types.BillingModeProvisioned)
	}
	for _, a := range List(props["AttributeDefinitions"]) {
		d.Attributes = append(d.Attributes, Str(Map(a)["AttributeName"])+" "+Str(Map(a)["AttributeType"]))
	}
	for _, g := range List(props["GlobalSecondaryIndexes"]) {
		gm := Map(g)
		var nonKey []string
		for _, a := range List(Path(gm, "Projection", "NonKeyAttributes")) {
			nonKey = append(nonKey, Str(a))
		}
		d.Indexes = append(d.Indexes, indexString(Str(gm["IndexName"]), keyString(keyList(gm["KeySchema"])), Str(Path(gm, "Projection", "ProjectionType")), nonKey))
	}
	if s := Map(props["StreamSpecification"]); s != nil {
		d.Stream = Str(s["StreamViewType"])
	}
	if on, _ := Bool(Path(props, "TimeToLiveSpecification", "Enabled")); on {
		d.TTL = Str(Path(props, "TimeToLiveSpecification", "AttributeName"))
	}
	d.sort()
	return d
}

func (d *TableDef) sort() {
	slices.Sort(d.Attributes)
	slices.Sort(d.Indexes)
}

// Diff lists how got differs from d (the wanted definition), one line per
// field.
func (d TableDef) Diff(got TableDef) []string {
	want := d
	var out []string
	cmp := func(field, w, g string) {
		if w != g {
			out = append(out, fmt.Sprintf("%s is %q, want %q", field, g, w))
		}
	}
	cmp("key schema", want.Keys, got.Keys)
	cmp("attribute definitions", strings.Join(want.Attributes, ", "), strings.Join(got.Attributes, ", "))
	for _, ix := range want.Indexes {
		if !slices.Contains(got.Indexes, ix) {
			out = append(out, "index missing or different: want "+ix)
		}
	}
	for _, ix := range got.Indexes {
		if !slices.Contains(want.Indexes, ix) {
			out = append(out, "index not in the code: "+ix)
		}
	}
	cmp("billing mode", want.Billing, got.Billing)
	cmp("stream view type", want.Stream, got.Stream)
	cmp("time-to-live attribute", want.TTL, got.TTL)
	return out
}

func keyString(ks []types.KeySchemaElement) string {
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = aws.ToString(k.AttributeName) + " " + string(k.KeyType)
	}
	return strings.Join(parts, ", ")
}

func indexString(name, keys, projection string, nonKey []string) string {
	nonKey = slices.Sorted(slices.Values(nonKey))
	s := name + ": " + keys + "; " + projection
	if len(nonKey) > 0 {
		s += " " + fmt.Sprint(nonKey)
	}
	return s
}

func checkTables(t *Template, env Env) []error {
	var errs []error
	events, views := CodeTables()
	for _, tab := range []struct {
		id, param string
		want      TableDef
		retain    bool
	}{
		{EventsTableID, "EventsTableName", events, true},
		{ViewsTableID, "ViewsTableName", views, false},
	} {
		r, ok := t.Resources[tab.id]
		if !ok || r.Type != "AWS::DynamoDB::Table" {
			errs = append(errs, fmt.Errorf("%s must be an AWS::DynamoDB::Table", tab.id))
			continue
		}
		for _, d := range tab.want.Diff(TemplateTable(r.Properties)) {
			errs = append(errs, fmt.Errorf("%s: %s (the code's definition is the source of truth)", tab.id, d))
		}
		if p, _ := Ref(r.Properties["TableName"]); p != tab.param || t.Parameters[tab.param] == nil {
			errs = append(errs, fmt.Errorf("%s: TableName must be !Ref %s (a parameter)", tab.id, tab.param))
		}
		if p, _ := Ref(r.Properties["DeletionProtectionEnabled"]); p != "DeletionProtection" || t.Parameters[p] == nil {
			errs = append(errs, fmt.Errorf("%s: DeletionProtectionEnabled must be !Ref DeletionProtection (a parameter)", tab.id))
		}
		if tab.retain {
			if r.DeletionPolicy != "Retain" {
				errs = append(errs, fmt.Errorf("%s: DeletionPolicy must be Retain (deleting the stack must not delete the log)", tab.id))
			}
			if on, _ := Bool(Path(r.Properties, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled")); !on {
				errs = append(errs, fmt.Errorf("%s: point-in-time recovery must be on (the log is the only copy)", tab.id))
			}
		}
	}
	return errs
}
