package infra

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// FunctionSpec is one Lambda of the template: its logical ID and the Go
// main package (a folder relative to the module root) it runs.
type FunctionSpec struct {
	ID     string
	Source string
	// StreamReader: the function reads the events table's stream.
	StreamReader bool
	// MinTimeout is the least function timeout (seconds) its code needs.
	MinTimeout int64
}

// Functions are the template's functions. Every folder under lambdas/ is
// one of them.
var Functions = []FunctionSpec{
	{ID: "ConnectFunction", Source: "lambdas/connect"},
	{ID: "DisconnectFunction", Source: "lambdas/disconnect"},
	{ID: "RouterFunction", Source: "lambdas/router"},
	{ID: "ProcessorFunction", Source: "lambdas/processor", MinTimeout: 60},
	{ID: "ProjectorFunction", Source: "lambdas/projector", StreamReader: true, MinTimeout: 60},
	// The fan-out's per-batch budget is 30 s; the function must outlive it.
	{ID: "FanoutFunction", Source: "lambdas/fanout", StreamReader: true, MinTimeout: 60},
	{ID: "ApiFunction", Source: "lambdas/api"},
}

// Resource names the checks rely on.
const (
	EventsTableID   = "EventsTable"
	ViewsTableID    = "ViewsTable"
	EventBusID      = "EventBus"
	WebSocketAPIID  = "WebSocketApi"
	HTTPAPIID       = "HttpApi"
	ProjectorID     = "ProjectorFunction"
	ProcessorID     = "ProcessorFunction"
	ApiFunctionID   = "ApiFunction"
	submittedDetail = "request.submitted"
)

// Deploy target of every function.
const (
	Runtime      = "provided.al2023"
	Architecture = "arm64"
	Handler      = "bootstrap"
)

// Env is what the checks need besides the template.
type Env struct {
	// Root is the module root (where go.mod is).
	Root string
	// Build builds the main package in a folder (relative to Root) for the
	// deploy target; nil means it builds. Checks call it once per function,
	// so it should remember its results.
	Build func(source string) error
	// Reads returns the environment variables the main package in a folder
	// reads (EnvReads).
	Reads func(source string) ([]string, error)
}

// Check is one wiring check.
type Check struct {
	Name string
	Run  func(t *Template, env Env) []error
}

// Checks returns every wiring check, in a fixed order.
func Checks() []Check {
	return []Check{
		{"functions", checkFunctions},
		{"streams", checkStreams},
		{"tables", checkTables},
		{"env", checkEnv},
		{"iam", checkIAM},
		{"routes", checkRoutes},
		{"bus", checkBus},
		{"alarms", checkAlarms},
	}
}

// RunChecks runs every check and returns the problems by check name
// (checks that pass are absent).
func RunChecks(t *Template, env Env) map[string][]error {
	out := map[string][]error{}
	for _, c := range Checks() {
		if errs := c.Run(t, env); len(errs) > 0 {
			out[c.Name] = errs
		}
	}
	return out
}

// DistZip is the CodeUri of the function that runs the main in source:
// where `make package` writes its zip, relative to infra/.
func DistZip(source string) string {
	return "../dist/lambdas/" + filepath.Base(source) + ".zip"
}

// ------------------------------------------------------------ functions

func checkFunctions(t *Template, env Env) []error {
	var errs []error
	specs := map[string]FunctionSpec{}
	for _, s := range Functions {
		specs[s.ID] = s
	}
	var ids []string
	for _, r := range t.OfType("AWS::Serverless::Function") {
		ids = append(ids, r.ID)
	}
	for _, r := range t.OfType("AWS::Lambda::Function") {
		errs = append(errs, fmt.Errorf("%s: use AWS::Serverless::Function, like the other functions", r.ID))
	}
	for _, s := range Functions {
		if !slices.Contains(ids, s.ID) {
			errs = append(errs, fmt.Errorf("function %s (%s) is missing", s.ID, s.Source))
		}
	}
	roles := map[string]string{}
	for _, id := range ids {
		spec, known := specs[id]
		if !known {
			errs = append(errs, fmt.Errorf("function %s is not one of infra.Functions: add it there with its Go main", id))
		}
		r := t.Resources[id]
		p := t.FunctionProperties(id)
		source := Str(r.Metadata["Source"])
		switch {
		case source == "":
			errs = append(errs, fmt.Errorf("%s: Metadata.Source (the Go main folder) is missing", id))
		case known && source != spec.Source:
			errs = append(errs, fmt.Errorf("%s: Metadata.Source is %s, want %s", id, source, spec.Source))
		}
		if source != "" {
			if err := mainFolder(env.Root, source); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", id, err))
			} else if err := env.Build(source); err != nil {
				errs = append(errs, fmt.Errorf("%s: %s does not build: %w", id, source, err))
			}
			if got := Str(p["CodeUri"]); got != DistZip(source) {
				errs = append(errs, fmt.Errorf("%s: CodeUri is %q, want %q (what make package writes)", id, got, DistZip(source)))
			}
		}
		if got := Str(p["Runtime"]); got != Runtime {
			errs = append(errs, fmt.Errorf("%s: Runtime is %q, want %s", id, got, Runtime))
		}
		if a := List(p["Architectures"]); len(a) != 1 || Str(a[0]) != Architecture {
			errs = append(errs, fmt.Errorf("%s: Architectures is %v, want [%s]", id, a, Architecture))
		}
		if got := Str(p["Handler"]); got != Handler {
			errs = append(errs, fmt.Errorf("%s: Handler is %q, want %s", id, got, Handler))
		}
		if spec.MinTimeout > 0 {
			if to, ok := Int(p["Timeout"]); !ok || to < spec.MinTimeout {
				errs = append(errs, fmt.Errorf("%s: Timeout is %v, want at least %d s", id, p["Timeout"], spec.MinTimeout))
			}
		}
		role, attr, ok := GetAtt(p["Role"])
		switch {
		case !ok || attr != "Arn" || t.Resources[role].Type != "AWS::IAM::Role":
			errs = append(errs, fmt.Errorf("%s: Role must be !GetAtt <its own AWS::IAM::Role>.Arn", id))
		case roles[role] != "":
			errs = append(errs, fmt.Errorf("%s: shares role %s with %s; each function has its own", id, role, roles[role]))
		default:
			roles[role] = id
		}
	}
	// Every main under lambdas/ is deployed.
	dirs, err := os.ReadDir(filepath.Join(env.Root, "lambdas"))
	if err != nil {
		return append(errs, err)
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		src := "lambdas/" + d.Name()
		if !slices.ContainsFunc(Functions, func(s FunctionSpec) bool { return s.Source == src }) {
			errs = append(errs, fmt.Errorf("%s has no function: add it to the template and to infra.Functions", src))
		}
	}
	return errs
}

// mainFolder reports whether source is a folder of Go files.
func mainFolder(root, source string) error {
	if filepath.IsAbs(source) || strings.Contains(source, "..") {
		return fmt.Errorf("Metadata.Source %q must be a folder inside the module", source)
	}
	entries, err := os.ReadDir(filepath.Join(root, source))
	if err != nil {
		return fmt.Errorf("code folder %s does not exist", source)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".go") && !strings.HasSuffix(e.Name(), "_test.go") {
			return nil
		}
	}
	return fmt.Errorf("code folder %s has no Go files", source)
}

// ------------------------------------------------------------ streams

// Bounds of a stream reader's event source mapping.
const (
	maxRetryAttempts = 10000  // Lambda's limit; -1 (forever) is refused
	minRecordAge     = 60     // Lambda's minimum
	maxRecordAge     = 604800 // Lambda's limit; -1 (forever) is refused
)

// streamMapping is one reader of a DynamoDB stream, from an
// AWS::Lambda::EventSourceMapping or a SAM DynamoDB event.
type streamMapping struct {
	where    string
	function string // logical ID
	props    map[string]any
	source   string // canonical EventSourceArn / Stream
}

func streamMappings(t *Template) []streamMapping {
	var out []streamMapping
	for _, r := range t.OfType("AWS::Lambda::EventSourceMapping") {
		src, _ := Canonical(r.Properties["EventSourceArn"])
		if !strings.Contains(src, "dynamodb") && !strings.HasSuffix(src, ".StreamArn}") {
			continue // SQS, Kinesis, …
		}
		fn, _ := Ref(r.Properties["FunctionName"])
		if fn == "" {
			if res, _, ok := GetAtt(r.Properties["FunctionName"]); ok {
				fn = res
			}
		}
		out = append(out, streamMapping{where: r.ID, function: fn, props: r.Properties, source: src})
	}
	for _, r := range t.OfType("AWS::Serverless::Function") {
		events := Map(r.Properties["Events"])
		for _, name := range slices.Sorted(maps.Keys(events)) {
			ev := Map(events[name])
			if Str(ev["Type"]) != "DynamoDB" {
				continue
			}
			props := Map(ev["Properties"])
			src, _ := Canonical(props["Stream"])
			out = append(out, streamMapping{where: r.ID + ".Events." + name, function: r.ID, props: props, source: src})
		}
	}
	return out
}

func checkStreams(t *Template, env Env) []error {
	var errs []error
	want := "${" + EventsTableID + ".StreamArn}"
	readers := map[string]streamMapping{}
	for _, m := range streamMappings(t) {
		if m.source != want {
			errs = append(errs, fmt.Errorf("%s: reads stream %q; the only stream read is the events table's (%s)", m.where, m.source, want))
			continue
		}
		if prev, dup := readers[m.function]; dup {
			errs = append(errs, fmt.Errorf("%s: %s already reads the stream (%s)", m.where, m.function, prev.where))
		}
		readers[m.function] = m
	}
	var wantReaders []string
	for _, s := range Functions {
		if s.StreamReader {
			wantReaders = append(wantReaders, s.ID)
		}
	}
	if got := slices.Sorted(maps.Keys(readers)); !slices.Equal(got, slices.Sorted(slices.Values(wantReaders))) {
		errs = append(errs, fmt.Errorf("the events table's stream is read by %v, want exactly %v (at most two readers per stream)", got, wantReaders))
	}
	for _, fn := range slices.Sorted(maps.Keys(readers)) {
		errs = append(errs, checkMapping(t, readers[fn])...)
	}
	return errs
}

func checkMapping(t *Template, m streamMapping) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(m.where+": "+format, args...)) }
	p := m.props
	if n, ok := Int(p["BatchSize"]); !ok || n < 1 || n > 10000 {
		bad("BatchSize must be set, 1..10000 (got %v)", p["BatchSize"])
	}
	if n, ok := Int(p["MaximumBatchingWindowInSeconds"]); !ok || n < 0 || n > 300 {
		bad("MaximumBatchingWindowInSeconds must be set, 0..300 (got %v)", p["MaximumBatchingWindowInSeconds"])
	}
	if !slices.ContainsFunc(List(p["FunctionResponseTypes"]), func(v any) bool { return Str(v) == "ReportBatchItemFailures" }) {
		bad("FunctionResponseTypes must include ReportBatchItemFailures (the handlers answer partial batch failures)")
	}
	if b, ok := Bool(p["BisectBatchOnFunctionError"]); !ok || !b {
		bad("BisectBatchOnFunctionError must be true")
	}
	if n, ok := Int(p["MaximumRetryAttempts"]); !ok || n < 0 || n > maxRetryAttempts {
		bad("MaximumRetryAttempts must be bounded, 0..%d (got %v)", maxRetryAttempts, p["MaximumRetryAttempts"])
	}
	if n, ok := Int(p["MaximumRecordAgeInSeconds"]); !ok || n < minRecordAge || n > maxRecordAge {
		bad("MaximumRecordAgeInSeconds must be bounded, %d..%d (got %v)", minRecordAge, maxRecordAge, p["MaximumRecordAgeInSeconds"])
	}
	start := Str(p["StartingPosition"])
	switch {
	case start == "":
		bad("StartingPosition must be set")
	case m.function == ProjectorID && start != "TRIM_HORIZON":
		bad("the projector must start at TRIM_HORIZON (views need every event), got %s", start)
	}
	q, attr, ok := GetAtt(Path(p, "DestinationConfig", "OnFailure", "Destination"))
	if !ok || attr != "Arn" || t.Resources[q].Type != "AWS::SQS::Queue" {
		bad("DestinationConfig.OnFailure.Destination must be !GetAtt <an AWS::SQS::Queue>.Arn")
	}
	return errs
}

// failureQueue is the SQS queue failed work of function id goes to: its
// stream mapping's on-failure destination, or its asynchronous invocation's.
func failureQueue(t *Template, id string) string {
	for _, m := range streamMappings(t) {
		if m.function == id {
			if q, _, ok := GetAtt(Path(m.props, "DestinationConfig", "OnFailure", "Destination")); ok {
				return q
			}
		}
	}
	q, _, _ := GetAtt(Path(t.FunctionProperties(id), "EventInvokeConfig", "DestinationConfig", "OnFailure", "Destination"))
	return q
}

// ------------------------------------------------------------ env

// Variables the template must never set: Lambda sets AWS_REGION itself
// (it is reserved), and DYNAMODB_ENDPOINT points the SDK at moto in tests.
var unsetVars = map[string]string{
	"AWS_REGION":        "Lambda sets it (reserved)",
	"DYNAMODB_ENDPOINT": "it is a test override (moto); on AWS the SDK finds DynamoDB itself",
}

// aliasVars are older names the code reads only when the variable they
// stand for is unset (the origin project's REQUESTS_TABLE and
// CONNECTIONS_TABLE for the one views table). The template sets the
// current name and never an alias.
var aliasVars = map[string]string{
	"REQUESTS_TABLE":    "VIEWS_TABLE",
	"CONNECTIONS_TABLE": "VIEWS_TABLE",
}

// requiredVars must be non-empty on the functions that read them: the code
// refuses to start without them, or silently does less.
var requiredVars = map[string]map[string]string{
	"EVENTS_TABLE":       {"*": "${" + EventsTableID + "}"},
	"VIEWS_TABLE":        {"*": "${" + ViewsTableID + "}"},
	"EVENT_BUS_NAME":     {ProjectorID: "${" + EventBusID + "}"},
	"WEBSOCKET_ENDPOINT": {"ConnectFunction": "", "DisconnectFunction": "", "RouterFunction": "", ProcessorID: "", "FanoutFunction": ""},
}

func checkEnv(t *Template, env Env) []error {
	var errs []error
	for _, s := range Functions {
		r, ok := t.Resources[s.ID]
		if !ok {
			continue // the functions check reports it
		}
		source := Str(r.Metadata["Source"])
		if source == "" || mainFolder(env.Root, source) != nil || env.Build(source) != nil {
			continue // the functions check reports it
		}
		reads, err := env.Reads(source)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: cannot tell what %s reads: %w", s.ID, source, err))
			continue
		}
		vars := Map(Path(t.FunctionProperties(s.ID), "Environment", "Variables"))
		for _, name := range reads {
			_, set := vars[name]
			if why, never := unsetVars[name]; never {
				if set {
					errs = append(errs, fmt.Errorf("%s: sets %s, which it must not: %s", s.ID, name, why))
				}
				continue
			}
			if primary, alias := aliasVars[name]; alias {
				switch {
				case set:
					errs = append(errs, fmt.Errorf("%s: sets %s, an old name of %s: set %s only", s.ID, name, primary, primary))
				case !slices.Contains(reads, primary):
					errs = append(errs, fmt.Errorf("%s: %s reads %s but not %s", s.ID, source, name, primary))
				}
				continue // the primary's own rules apply to it
			}
			if !set {
				errs = append(errs, fmt.Errorf("%s: %s reads %s, which the template does not set (set it, to \"\" if off is meant)", s.ID, source, name))
			}
		}
		for _, name := range slices.Sorted(maps.Keys(vars)) {
			if !slices.Contains(reads, name) {
				errs = append(errs, fmt.Errorf("%s: sets %s, which %s never reads", s.ID, name, source))
			}
		}
		for name, fns := range requiredVars {
			want, applies := fns[s.ID]
			if !applies {
				want, applies = fns["*"]
			}
			if !applies || !slices.Contains(reads, name) {
				continue
			}
			got, ok := Canonical(vars[name])
			switch {
			case !ok || got == "":
				errs = append(errs, fmt.Errorf("%s: %s must be set to a value", s.ID, name))
			case want != "" && got != want:
				errs = append(errs, fmt.Errorf("%s: %s is %q, want %q", s.ID, name, got, want))
			}
		}
		if ep, ok := Canonical(vars["WEBSOCKET_ENDPOINT"]); ok && ep != "" {
			for _, part := range []string{"https://${" + WebSocketAPIID + "}.execute-api.", "/${" + stageParameter(t) + "}"} {
				if !strings.Contains(ep, part) {
					errs = append(errs, fmt.Errorf("%s: WEBSOCKET_ENDPOINT %q is not the WebSocket API's stage URL (missing %q)", s.ID, ep, part))
				}
			}
		}
	}
	return errs
}

// stageParameter is what the WebSocket stage's StageName refers to.
func stageParameter(t *Template) string {
	for _, r := range t.OfType("AWS::ApiGatewayV2::Stage") {
		if api, _ := Ref(r.Properties["ApiId"]); api == WebSocketAPIID {
			if p, ok := Ref(r.Properties["StageName"]); ok {
				return p
			}
			return Str(r.Properties["StageName"])
		}
	}
	return ""
}

// ------------------------------------------------------------ iam

// Grant is an IAM permission a function's role must give: each action on
// each resource (canonical, see Canonical), under Condition (canonical
// JSON, "" for none). "{logs}" stands for the ARN of the function's log
// group, "{failure}" for the ARN of its failure queue.
type Grant struct {
	Actions   []string
	Resources []string
	Condition string
}

var (
	grantLogs        = Grant{Actions: []string{"logs:CreateLogStream", "logs:PutLogEvents"}, Resources: []string{"{logs}"}}
	grantEventsRead  = Grant{Actions: []string{"dynamodb:GetItem", "dynamodb:Query"}, Resources: []string{"${EventsTable.Arn}"}}
	grantEventsWrite = Grant{Actions: []string{"dynamodb:PutItem"}, Resources: []string{"${EventsTable.Arn}"}}
	grantViewsRead   = Grant{Actions: []string{"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"}, Resources: []string{"${ViewsTable.Arn}"}}
	grantViewsIndex  = Grant{Actions: []string{"dynamodb:Query"}, Resources: []string{"${ViewsTable.Arn}/index/*"}}
	grantViewsWrite  = Grant{Actions: []string{"dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"}, Resources: []string{"${ViewsTable.Arn}"}}
	// Every function creates the views' meta item if it is missing
	// (projections.Bootstrap); readers may write that item only.
	grantViewsMeta = Grant{Actions: []string{"dynamodb:PutItem"}, Resources: []string{"${ViewsTable.Arn}"},
		Condition: `{"ForAllValues:StringEquals":{"dynamodb:LeadingKeys":["meta"]}}`}
	grantStreamRead = Grant{Actions: []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}, Resources: []string{"${EventsTable.StreamArn}"}}
	grantStreamList = Grant{Actions: []string{"dynamodb:ListStreams"}, Resources: []string{"${EventsTable.Arn}/stream/*"}}
	grantFailure    = Grant{Actions: []string{"sqs:SendMessage"}, Resources: []string{"{failure}"}}
	grantPublish    = Grant{Actions: []string{"events:PutEvents"}, Resources: []string{"${EventBus.Arn}"}}
	grantPost       = Grant{Actions: []string{"execute-api:ManageConnections"},
		Resources: []string{"arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}/${WebSocketStageName}/POST/@connections/*"}}
)

// Grants are the permissions of each function, exactly: the actions its
// code calls on the resources it calls them on. $connect and $disconnect
// never post to sockets (a socket is not open during $connect and gone at
// $disconnect); the router answers and the fan-out pushes through
// @connections.
var Grants = map[string][]Grant{
	"ConnectFunction":    {grantLogs, grantEventsRead, grantEventsWrite, grantViewsRead, grantViewsIndex, grantViewsMeta},
	"DisconnectFunction": {grantLogs, grantEventsRead, grantEventsWrite, grantViewsRead, grantViewsIndex, grantViewsMeta},
	"RouterFunction":     {grantLogs, grantEventsRead, grantEventsWrite, grantViewsRead, grantViewsIndex, grantViewsMeta, grantPost},
	ProcessorID:          {grantLogs, grantEventsRead, grantEventsWrite, grantViewsRead, grantViewsIndex, grantViewsMeta, grantFailure},
	ProjectorID:          {grantLogs, grantEventsRead, grantViewsRead, grantViewsIndex, grantViewsWrite, grantStreamRead, grantStreamList, grantFailure, grantPublish},
	"FanoutFunction":     {grantLogs, grantEventsRead, grantEventsWrite, grantViewsRead, grantViewsIndex, grantViewsMeta, grantStreamRead, grantStreamList, grantFailure, grantPost},
	ApiFunctionID:        {grantLogs, grantEventsRead, grantViewsRead, grantViewsIndex, grantViewsMeta},
}

func checkIAM(t *Template, env Env) []error {
	var errs []error
	for _, typ := range []string{"AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"} {
		for _, r := range t.OfType(typ) {
			if r.Properties["ManagedPolicyArns"] != nil {
				errs = append(errs, fmt.Errorf("%s: ManagedPolicyArns grant more than the function needs; write the statements", r.ID))
			}
			for _, doc := range policyDocuments(r) {
				for i, st := range List(Path(doc.doc, "Statement")) {
					errs = append(errs, wildcardProblems(t, fmt.Sprintf("%s (%s statement %d)", r.ID, doc.name, i+1), Map(st))...)
				}
			}
		}
	}
	for _, s := range Functions {
		if _, ok := t.Resources[s.ID]; !ok {
			continue
		}
		p := t.FunctionProperties(s.ID)
		if p["Policies"] != nil {
			errs = append(errs, fmt.Errorf("%s: SAM Policies are not allowed: its role states exactly what it may do", s.ID))
		}
		role, _, ok := GetAtt(p["Role"])
		if !ok || t.Resources[role].Type != "AWS::IAM::Role" {
			continue // the functions check reports it
		}
		got := rolePairs(t.Resources[role])
		want := map[string]bool{}
		logGroup, _ := Ref(Path(p, "LoggingConfig", "LogGroup"))
		failure := failureQueue(t, s.ID)
		for _, g := range Grants[s.ID] {
			for _, a := range g.Actions {
				for _, res := range g.Resources {
					res = strings.NewReplacer("{logs}", "${"+logGroup+".Arn}", "{failure}", "${"+failure+".Arn}").Replace(res)
					want[pair(a, res, g.Condition)] = true
				}
			}
		}
		for _, k := range slices.Sorted(maps.Keys(want)) {
			if !got[k] {
				errs = append(errs, fmt.Errorf("%s: role %s lacks %s", s.ID, role, k))
			}
		}
		for _, k := range slices.Sorted(maps.Keys(got)) {
			if !want[k] {
				errs = append(errs, fmt.Errorf("%s: role %s grants %s, more than infra.Grants allows", s.ID, role, k))
			}
		}
	}
	return errs
}

type namedDoc struct {
	name string
	doc  map[string]any
}

func policyDocuments(r Resource) []namedDoc {
	var out []namedDoc
	if d := Map(r.Properties["PolicyDocument"]); d != nil {
		out = append(out, namedDoc{Str(r.Properties["PolicyName"]), d})
	}
	for _, p := range List(r.Properties["Policies"]) {
		out = append(out, namedDoc{Str(Map(p)["PolicyName"]), Map(Map(p)["PolicyDocument"])})
	}
	return out
}

func wildcardProblems(t *Template, where string, st map[string]any) []error {
	var errs []error
	for _, k := range []string{"NotAction", "NotResource", "NotPrincipal"} {
		if st[k] != nil {
			errs = append(errs, fmt.Errorf("%s: %s grants by exclusion; list what is allowed", where, k))
		}
	}
	for _, a := range List(st["Action"]) {
		if s := Str(a); s == "*" || strings.HasSuffix(s, ":*") {
			errs = append(errs, fmt.Errorf("%s: action %q is a wildcard", where, s))
		}
	}
	for _, res := range List(st["Resource"]) {
		c, ok := Canonical(res)
		if !ok || c == "*" {
			errs = append(errs, fmt.Errorf("%s: resource %v is not an ARN of this stack", where, res))
			continue
		}
		named := false
		for _, n := range Referenced(c) {
			if _, isRes := t.Resources[n]; isRes {
				named = true
			}
		}
		if !named {
			errs = append(errs, fmt.Errorf("%s: resource %q names none of this stack's resources", where, c))
		}
	}
	return errs
}

// rolePairs lists what a role allows as "action resource [if condition]".
func rolePairs(r Resource) map[string]bool {
	out := map[string]bool{}
	for _, doc := range policyDocuments(r) {
		for _, stv := range List(Path(doc.doc, "Statement")) {
			st := Map(stv)
			if Str(st["Effect"]) != "Allow" {
				continue
			}
			cond := ""
			if c := st["Condition"]; c != nil {
				b, _ := json.Marshal(c)
				cond = string(b)
			}
			for _, a := range List(st["Action"]) {
				for _, res := range List(st["Resource"]) {
					c, _ := Canonical(res)
					out[pair(Str(a), c, cond)] = true
				}
			}
		}
	}
	return out
}

func pair(action, resource, cond string) string {
	s := action + " on " + resource
	if cond != "" {
		s += " if " + cond
	}
	return s
}

// ------------------------------------------------------------ routes

func checkRoutes(t *Template, env Env) []error {
	var errs []error
	api, ok := t.Resources[WebSocketAPIID]
	switch {
	case !ok || api.Type != "AWS::ApiGatewayV2::Api" || Str(api.Properties["ProtocolType"]) != "WEBSOCKET":
		errs = append(errs, fmt.Errorf("%s must be an AWS::ApiGatewayV2::Api with ProtocolType WEBSOCKET", WebSocketAPIID))
	case Str(api.Properties["RouteSelectionExpression"]) != "$request.body.action":
		errs = append(errs, fmt.Errorf("%s: RouteSelectionExpression must be $request.body.action (the protocol's action field)", WebSocketAPIID))
	}
	wantRoutes := map[string]string{"$connect": "ConnectFunction", "$disconnect": "DisconnectFunction", "$default": "RouterFunction"}
	gotRoutes := map[string]string{}
	var routeIDs []string
	for _, r := range t.OfType("AWS::ApiGatewayV2::Route") {
		if a, _ := Ref(r.Properties["ApiId"]); a != WebSocketAPIID {
			continue
		}
		routeIDs = append(routeIDs, r.ID)
		key := Str(r.Properties["RouteKey"])
		target, _ := Canonical(r.Properties["Target"])
		integ := strings.TrimSuffix(strings.TrimPrefix(target, "integrations/${"), "}")
		ir, ok := t.Resources[integ]
		if !ok || ir.Type != "AWS::ApiGatewayV2::Integration" {
			errs = append(errs, fmt.Errorf("route %s (%s): Target %q is not integrations/${<an integration>}", r.ID, key, target))
			continue
		}
		if Str(ir.Properties["IntegrationType"]) != "AWS_PROXY" {
			errs = append(errs, fmt.Errorf("integration %s: IntegrationType must be AWS_PROXY", integ))
		}
		uri, _ := Canonical(ir.Properties["IntegrationUri"])
		fn := ""
		for _, n := range Referenced(uri) {
			if t.Resources[n].Type == "AWS::Serverless::Function" {
				fn = n
			}
		}
		if !strings.Contains(uri, ":lambda:path/2015-03-31/functions/${"+fn+".Arn}/invocations") {
			errs = append(errs, fmt.Errorf("integration %s: IntegrationUri %q does not invoke a function of the template", integ, uri))
		}
		gotRoutes[key] = fn
	}
	for _, key := range slices.Sorted(maps.Keys(wantRoutes)) {
		if got := gotRoutes[key]; got != wantRoutes[key] {
			errs = append(errs, fmt.Errorf("WebSocket route %s goes to %q, want %s", key, got, wantRoutes[key]))
		}
		if !invokePermission(t, wantRoutes[key], "apigateway.amazonaws.com", WebSocketAPIID) {
			errs = append(errs, fmt.Errorf("%s: no AWS::Lambda::Permission lets API Gateway (%s) invoke it", wantRoutes[key], WebSocketAPIID))
		}
	}
	for _, key := range slices.Sorted(maps.Keys(gotRoutes)) {
		if _, ok := wantRoutes[key]; !ok {
			errs = append(errs, fmt.Errorf("WebSocket route %s is unexpected: every message goes to $default (the router selects the action)", key))
		}
	}
	stageOK := false
	for _, r := range t.OfType("AWS::ApiGatewayV2::Stage") {
		if a, _ := Ref(r.Properties["ApiId"]); a != WebSocketAPIID {
			continue
		}
		auto, _ := Bool(r.Properties["AutoDeploy"])
		stageOK = auto && len(r.DependsOn) > 0
		for _, id := range routeIDs {
			if !slices.Contains(r.DependsOn, id) {
				stageOK = false
			}
		}
	}
	if !stageOK {
		errs = append(errs, fmt.Errorf("%s needs a stage with AutoDeploy that DependsOn every route", WebSocketAPIID))
	}
	// The HTTP API: a JWT authorizer on every route of the api function.
	h, ok := t.Resources[HTTPAPIID]
	if !ok || h.Type != "AWS::Serverless::HttpApi" {
		return append(errs, fmt.Errorf("%s must be an AWS::Serverless::HttpApi", HTTPAPIID))
	}
	def := Str(Path(h.Properties, "Auth", "DefaultAuthorizer"))
	jwt := Map(Path(h.Properties, "Auth", "Authorizers", def, "JwtConfiguration"))
	if def == "" || jwt == nil {
		errs = append(errs, fmt.Errorf("%s: Auth.DefaultAuthorizer must name a JWT authorizer", HTTPAPIID))
	} else {
		if iss, _ := Canonical(jwt["issuer"]); iss != "${JwtIssuer}" {
			errs = append(errs, fmt.Errorf("%s: the JWT authorizer's issuer is %q, want the JwtIssuer parameter", HTTPAPIID, iss))
		}
		aud := List(jwt["audience"])
		if len(aud) != 1 {
			errs = append(errs, fmt.Errorf("%s: the JWT authorizer's audience must be [JwtAudience]", HTTPAPIID))
		} else if a, _ := Canonical(aud[0]); a != "${JwtAudience}" {
			errs = append(errs, fmt.Errorf("%s: the JWT authorizer's audience is %q, want the JwtAudience parameter", HTTPAPIID, a))
		}
	}
	routes := 0
	for _, r := range t.OfType("AWS::Serverless::Function") {
		events := Map(r.Properties["Events"])
		for _, name := range slices.Sorted(maps.Keys(events)) {
			ev := Map(events[name])
			if Str(ev["Type"]) != "HttpApi" {
				continue
			}
			p := Map(ev["Properties"])
			if r.ID != ApiFunctionID {
				errs = append(errs, fmt.Errorf("%s: only %s serves the HTTP API", r.ID, ApiFunctionID))
				continue
			}
			routes++
			if a, _ := Ref(p["ApiId"]); a != HTTPAPIID {
				errs = append(errs, fmt.Errorf("%s.Events.%s: ApiId must be !Ref %s", r.ID, name, HTTPAPIID))
			}
			if v := Str(p["PayloadFormatVersion"]); v != "" && v != "2.0" {
				errs = append(errs, fmt.Errorf("%s.Events.%s: PayloadFormatVersion is %s, the handler reads 2.0", r.ID, name, v))
			}
			if a := Str(Path(p, "Auth", "Authorizer")); a != "" && a != def {
				errs = append(errs, fmt.Errorf("%s.Events.%s: the route uses authorizer %q, not the JWT authorizer", r.ID, name, a))
			}
		}
	}
	if routes == 0 {
		errs = append(errs, fmt.Errorf("%s has no HttpApi event: the HTTP API reaches no function", ApiFunctionID))
	}
	return errs
}

// invokePermission reports whether an AWS::Lambda::Permission lets
// principal invoke fn with a SourceArn naming source.
func invokePermission(t *Template, fn, principal, source string) bool {
	for _, r := range t.OfType("AWS::Lambda::Permission") {
		f, _ := Ref(r.Properties["FunctionName"])
		if f == "" {
			f, _, _ = GetAtt(r.Properties["FunctionName"])
		}
		src, _ := Canonical(r.Properties["SourceArn"])
		if f == fn && Str(r.Properties["Principal"]) == principal && Str(r.Properties["Action"]) == "lambda:InvokeFunction" &&
			slices.Contains(Referenced(src), source) {
			return true
		}
	}
	return false
}

// ------------------------------------------------------------ bus

func checkBus(t *Template, env Env) []error {
	var errs []error
	if t.Resources[EventBusID].Type != "AWS::Events::EventBus" {
		return []error{fmt.Errorf("%s must be an AWS::Events::EventBus", EventBusID)}
	}
	archived := false
	for _, r := range t.OfType("AWS::Events::Archive") {
		if src, _ := Canonical(r.Properties["SourceArn"]); src == "${"+EventBusID+".Arn}" {
			archived = true
		}
	}
	if !archived {
		errs = append(errs, fmt.Errorf("no AWS::Events::Archive of %s: events could not be replayed", EventBusID))
	}
	projVars := Map(Path(t.FunctionProperties(ProjectorID), "Environment", "Variables"))
	source, _ := Canonical(projVars["EVENT_SOURCE"])
	var rules []Resource
	for _, r := range t.OfType("AWS::Events::Rule") {
		for _, target := range List(r.Properties["Targets"]) {
			if fn, _, _ := GetAtt(Map(target)["Arn"]); fn == ProcessorID {
				rules = append(rules, r)
			}
		}
	}
	if len(rules) != 1 {
		return append(errs, fmt.Errorf("want exactly one AWS::Events::Rule targeting %s, found %d", ProcessorID, len(rules)))
	}
	rule := rules[0]
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(rule.ID+": "+format, args...)) }
	if b, _ := Canonical(rule.Properties["EventBusName"]); b != "${"+EventBusID+"}" {
		bad("EventBusName must be !Ref %s (the bus the projector publishes to)", EventBusID)
	}
	pattern := Map(rule.Properties["EventPattern"])
	if dt := List(pattern["detail-type"]); len(dt) != 1 || Str(dt[0]) != submittedDetail {
		bad("EventPattern detail-type must be [%s]", submittedDetail)
	}
	if src := List(pattern["source"]); len(src) != 1 {
		bad("EventPattern source must be one source")
	} else if c, _ := Canonical(src[0]); source == "" || c != source {
		bad("EventPattern source is %q but the projector publishes with EVENT_SOURCE %q", c, source)
	}
	if len(List(rule.Properties["Targets"])) != 1 {
		bad("the processor must be its only target")
	}
	target := Map(List(rule.Properties["Targets"])[0])
	if n, ok := Int(Path(target, "RetryPolicy", "MaximumRetryAttempts")); !ok || n < 0 || n > 185 {
		bad("the target's RetryPolicy.MaximumRetryAttempts must be set, 0..185")
	}
	if n, ok := Int(Path(target, "RetryPolicy", "MaximumEventAgeInSeconds")); !ok || n < 60 || n > 86400 {
		bad("the target's RetryPolicy.MaximumEventAgeInSeconds must be set, 60..86400")
	}
	dlq, attr, ok := GetAtt(Path(target, "DeadLetterConfig", "Arn"))
	if !ok || attr != "Arn" || t.Resources[dlq].Type != "AWS::SQS::Queue" {
		bad("the target's DeadLetterConfig.Arn must be !GetAtt <an AWS::SQS::Queue>.Arn")
	} else if !queueAllows(t, dlq, "events.amazonaws.com", rule.ID) {
		errs = append(errs, fmt.Errorf("%s: no AWS::SQS::QueuePolicy lets EventBridge (rule %s) send to it", dlq, rule.ID))
	}
	if !invokePermission(t, ProcessorID, "events.amazonaws.com", rule.ID) {
		errs = append(errs, fmt.Errorf("%s: no AWS::Lambda::Permission lets rule %s invoke it", ProcessorID, rule.ID))
	}
	// The processor is invoked asynchronously: Lambda retries its errors,
	// then sends the event to its on-failure destination.
	inv := Map(t.FunctionProperties(ProcessorID)["EventInvokeConfig"])
	if n, ok := Int(inv["MaximumRetryAttempts"]); !ok || n < 0 || n > 2 {
		errs = append(errs, fmt.Errorf("%s: EventInvokeConfig.MaximumRetryAttempts must be set, 0..2", ProcessorID))
	}
	q, attr, ok := GetAtt(Path(inv, "DestinationConfig", "OnFailure", "Destination"))
	if !ok || attr != "Arn" || t.Resources[q].Type != "AWS::SQS::Queue" || Str(Path(inv, "DestinationConfig", "OnFailure", "Type")) != "SQS" {
		errs = append(errs, fmt.Errorf("%s: EventInvokeConfig.DestinationConfig.OnFailure must be an SQS queue of the stack", ProcessorID))
	}
	return errs
}

// queueAllows reports whether a queue policy of queue lets service send
// messages from the resource source (an aws:SourceArn condition).
func queueAllows(t *Template, queue, service, source string) bool {
	for _, r := range t.OfType("AWS::SQS::QueuePolicy") {
		if !slices.ContainsFunc(List(r.Properties["Queues"]), func(v any) bool { q, _ := Ref(v); return q == queue }) {
			continue
		}
		for _, stv := range List(Path(r.Properties, "PolicyDocument", "Statement")) {
			st := Map(stv)
			res, _ := Canonical(st["Resource"])
			if Str(st["Effect"]) != "Allow" || Str(Path(st, "Principal", "Service")) != service ||
				!slices.ContainsFunc(List(st["Action"]), func(v any) bool { return Str(v) == "sqs:SendMessage" }) ||
				res != "${"+queue+".Arn}" {
				continue
			}
			for _, c := range Map(st["Condition"]) {
				if s, _ := Canonical(Map(c)["aws:SourceArn"]); slices.Contains(Referenced(s), source) {
					return true
				}
			}
		}
	}
	return false
}

// ------------------------------------------------------------ alarms

func checkAlarms(t *Template, env Env) []error {
	var errs []error
	type key struct{ namespace, metric, dim, value string }
	have := map[key]bool{}
	for _, r := range t.OfType("AWS::CloudWatch::Alarm") {
		p := r.Properties
		for _, d := range List(p["Dimensions"]) {
			v, _ := Canonical(Map(d)["Value"])
			have[key{Str(p["Namespace"]), Str(p["MetricName"]), Str(Map(d)["Name"]), v}] = true
		}
	}
	for _, q := range t.OfType("AWS::SQS::Queue") {
		if !have[key{"AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "${" + q.ID + ".QueueName}"}] {
			errs = append(errs, fmt.Errorf("queue %s: no alarm on its depth (AWS/SQS ApproximateNumberOfMessagesVisible)", q.ID))
		}
	}
	for _, s := range Functions {
		if _, ok := t.Resources[s.ID]; !ok {
			continue
		}
		if !have[key{"AWS/Lambda", "Errors", "FunctionName", "${" + s.ID + "}"}] {
			errs = append(errs, fmt.Errorf("%s: no alarm on its Errors", s.ID))
		}
		if s.StreamReader && !have[key{"AWS/Lambda", "IteratorAge", "FunctionName", "${" + s.ID + "}"}] {
			errs = append(errs, fmt.Errorf("%s: no alarm on its IteratorAge (how far it is behind the log)", s.ID))
		}
	}
	return errs
}
