package infra_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	yaml "go.yaml.in/yaml/v4"

	"github.com/streamer/streamer/infra"
)

// maxZipBytes is the bound on a function's deployment zip.
const maxZipBytes = 10 << 20

// TestTemplate checks infra/template.yaml: cfn-lint finds nothing, every
// wiring check passes, each function's zip stays under 10 MB, and every
// broken fixture under testdata/broken is caught by the check it names —
// and by no other, so each check is shown to be able to fail on its own.
func TestTemplate(t *testing.T) {
	root := moduleRoot(t)
	arm := newBuilder(t, infra.Architecture)
	bins := arm.buildAll(t, sources())
	env := checkEnv(t, root, arm)

	good := string(readAll(t, templatePath))
	fixtures := loadFixtures(t, good)
	files := []string{mustAbs(t, templatePath)}
	for _, f := range fixtures {
		files = append(files, f.path)
	}
	lint := cfnLint(t, files...)

	t.Run("cfn-lint", func(t *testing.T) {
		for _, f := range lint[files[0]] {
			if f.Level == "Error" || f.Level == "Warning" {
				t.Errorf("cfn-lint: %s", f)
			}
		}
	})

	t.Run("wiring", func(t *testing.T) {
		tpl, err := infra.Load(templatePath)
		if err != nil {
			t.Fatal(err)
		}
		for name, errs := range infra.RunChecks(tpl, env) {
			for _, e := range errs {
				t.Errorf("%s: %v", name, e)
			}
		}
	})

	t.Run("zip size", func(t *testing.T) {
		for _, s := range sources() {
			zip := zipBootstrap(t, bins[s], t.TempDir())
			fi, err := os.Stat(zip)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: zip %d bytes (binary for linux/%s)", s, fi.Size(), infra.Architecture)
			if fi.Size() > maxZipBytes {
				t.Errorf("%s: zip is %d bytes, over the %d limit", s, fi.Size(), maxZipBytes)
			}
		}
	})

	names := map[string]bool{}
	for _, f := range fixtures {
		names[f.Check] = true
		t.Run("broken/"+f.name, func(t *testing.T) {
			lintErrs := errorsOnly(lint[f.path])
			tpl, err := infra.Load(f.path)
			if err != nil {
				t.Fatalf("the fixture must still parse: %v", err)
			}
			problems := infra.RunChecks(tpl, env)
			if f.Check == "lint" {
				if !slices.ContainsFunc(lintErrs, func(l lintFinding) bool { return strings.Contains(l.String(), f.Want) }) {
					t.Errorf("cfn-lint reported no error with %q; it reported %v", f.Want, lintErrs)
				}
			} else {
				for _, l := range lintErrs {
					t.Errorf("cfn-lint catches this fixture (%s): it should break only the %s check", l, f.Check)
				}
				errs := problems[f.Check]
				if !slices.ContainsFunc(errs, func(e error) bool { return strings.Contains(e.Error(), f.Want) }) {
					t.Errorf("check %s did not report %q; it reported:\n%s", f.Check, f.Want, joinErrors(errs))
				}
			}
			for name, errs := range problems {
				if name != f.Check {
					t.Errorf("check %s fails too (a fixture breaks one check):\n%s", name, joinErrors(errs))
				}
			}
		})
	}
	t.Run("every check has a broken fixture", func(t *testing.T) {
		for _, c := range append(infra.Checks(), infra.Check{Name: "lint"}) {
			if !names[c.Name] {
				t.Errorf("no fixture under testdata/broken breaks check %s", c.Name)
			}
		}
	})
}

// checkEnv is the infra.Env of the tests: arm64 builds, and EnvReads run
// once for the functions' mains (and once more per other main a fixture
// names).
func checkEnv(t *testing.T, root string, b *builder) infra.Env {
	reads, err := infra.EnvReads(context.Background(), root, sources()...)
	if err != nil {
		t.Fatalf("EnvReads: %v", err)
	}
	var mu sync.Mutex
	return infra.Env{
		Root: root,
		Build: func(source string) error {
			_, err := b.build(source)
			return err
		},
		Reads: func(source string) ([]string, error) {
			mu.Lock()
			defer mu.Unlock()
			if r, ok := reads[source]; ok {
				return r, nil
			}
			more, err := infra.EnvReads(context.Background(), root, source)
			if err != nil {
				return nil, err
			}
			reads[source] = more[source]
			return more[source], nil
		},
	}
}

// fixture is one file of testdata/broken: edits that break the template in
// one way, the check that must catch it ("lint" for cfn-lint), and a part
// of the problem it must report.
type fixture struct {
	Check string `yaml:"check"`
	Want  string `yaml:"want"`
	Edits []struct {
		Old string `yaml:"old"`
		New string `yaml:"new"`
	} `yaml:"edits"`

	name, path string
}

// loadFixtures applies every fixture to the template and writes the broken
// templates to a temporary folder.
func loadFixtures(t *testing.T, template string) []fixture {
	t.Helper()
	paths, err := filepath.Glob("testdata/broken/*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures under testdata/broken (%v)", err)
	}
	dir := t.TempDir()
	var out []fixture
	for _, p := range paths {
		var f fixture
		if err := yaml.Unmarshal(readAll(t, p), &f); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		f.name = strings.TrimSuffix(filepath.Base(p), ".yaml")
		if f.Check == "" || f.Want == "" || len(f.Edits) == 0 {
			t.Fatalf("%s: check, want and edits are required", p)
		}
		text := template
		for i, e := range f.Edits {
			if text, err = applyEdit(text, e.Old, e.New); err != nil {
				t.Fatalf("%s: edit %d: %v (update the fixture to the template)", p, i+1, err)
			}
		}
		f.path = filepath.Join(dir, f.name+".yaml")
		if err := os.WriteFile(f.path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

// applyEdit replaces the one place where the lines of old appear in text,
// indented by any uniform amount, with the lines of new at that indent.
func applyEdit(text, old, new string) (string, error) {
	lines := strings.Split(text, "\n")
	oldLines := strings.Split(strings.TrimRight(old, "\n"), "\n")
	if len(oldLines) == 0 || strings.TrimSpace(oldLines[0]) == "" {
		return "", errors.New("old is empty")
	}
	var at []int
	var indent string
	for i := 0; i+len(oldLines) <= len(lines); i++ {
		first := lines[i]
		if !strings.HasSuffix(first, oldLines[0]) {
			continue
		}
		ind := first[:len(first)-len(oldLines[0])]
		if strings.TrimLeft(ind, " ") != "" {
			continue
		}
		match := true
		for j, l := range oldLines {
			if lines[i+j] != ind+l && !(l == "" && strings.TrimSpace(lines[i+j]) == "") {
				match = false
				break
			}
		}
		if match {
			at = append(at, i)
			indent = ind
		}
	}
	if len(at) != 1 {
		return "", fmt.Errorf("the old text appears %d times in the template, want once:\n%s", len(at), old)
	}
	var repl []string
	if new != "" {
		for _, l := range strings.Split(strings.TrimRight(new, "\n"), "\n") {
			if l == "" {
				repl = append(repl, "")
			} else {
				repl = append(repl, indent+l)
			}
		}
	}
	out := append(slices.Clone(lines[:at[0]]), repl...)
	out = append(out, lines[at[0]+len(oldLines):]...)
	return strings.Join(out, "\n"), nil
}

func joinErrors(errs []error) string {
	if len(errs) == 0 {
		return "(nothing)"
	}
	s := make([]string, len(errs))
	for i, e := range errs {
		s[i] = "  " + e.Error()
	}
	return strings.Join(s, "\n")
}

func mustAbs(t testing.TB, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestApplyEdit(t *testing.T) {
	text := "a:\n  b: 1\n  c: 2\nd:\n  b: 1\n  c: 3\n"
	got, err := applyEdit(text, "b: 1\nc: 2\n", "b: 9\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "a:\n  b: 9\nd:\n  b: 1\n  c: 3\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := applyEdit(text, "b: 1\n", "b: 2\n"); err == nil {
		t.Error("an edit matching twice must fail")
	}
	if _, err := applyEdit(text, "x: 1\n", ""); err == nil {
		t.Error("an edit matching nowhere must fail")
	}
}

// ---------------------------------------------------------------- parsing

func TestParseIntrinsics(t *testing.T) {
	tpl, err := infra.Parse([]byte(`
Parameters:
  Name: {Type: String, Default: x}
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    DependsOn: Other
    Properties:
      TableName: !Ref Name
      Arn: !GetAtt Other.Arn
      Arn2: !GetAtt [Other, StreamArn]
      Url: !Sub "https://${Other}.example.com/${Name}"
      Joined: !Join ["", [a, !Ref Name]]
      Maybe: !If [Cond, 1, !Ref AWS::NoValue]
      Count: 10
      Quoted: "10"
      On: true
  Other:
    Type: AWS::SQS::Queue
`))
	if err != nil {
		t.Fatal(err)
	}
	p := tpl.Resources["Table"].Properties
	for _, c := range []struct {
		key  string
		want any
	}{
		{"TableName", map[string]any{"Ref": "Name"}},
		{"Arn", map[string]any{"Fn::GetAtt": []any{"Other", "Arn"}}},
		{"Arn2", map[string]any{"Fn::GetAtt": []any{"Other", "StreamArn"}}},
		{"Url", map[string]any{"Fn::Sub": "https://${Other}.example.com/${Name}"}},
		{"Joined", map[string]any{"Fn::Join": []any{"", []any{"a", map[string]any{"Ref": "Name"}}}}},
		{"Maybe", map[string]any{"Fn::If": []any{"Cond", int64(1), map[string]any{"Ref": "AWS::NoValue"}}}},
		{"Count", int64(10)},
		{"Quoted", "10"},
		{"On", true},
	} {
		if !reflect.DeepEqual(p[c.key], c.want) {
			t.Errorf("%s = %#v, want %#v", c.key, p[c.key], c.want)
		}
	}
	if d := tpl.Resources["Table"].DependsOn; !slices.Equal(d, []string{"Other"}) {
		t.Errorf("DependsOn = %v", d)
	}
	for key, want := range map[string]string{"TableName": "${Name}", "Arn": "${Other.Arn}", "Arn2": "${Other.StreamArn}", "Url": "https://${Other}.example.com/${Name}", "Count": "10"} {
		if got, ok := infra.Canonical(p[key]); !ok || got != want {
			t.Errorf("Canonical(%s) = %q, %v; want %q", key, got, ok, want)
		}
	}
	if _, ok := infra.Canonical(p["Joined"]); ok {
		t.Error("Canonical must refuse Fn::Join")
	}
	if got := infra.Referenced("arn:${AWS::Partition}:x:${Api}/${Stage}/${Api.Arn}"); !slices.Equal(got, []string{"Api", "Stage"}) {
		t.Errorf("Referenced = %v", got)
	}
	if n, ok := infra.Int(p["Quoted"]); !ok || n != 10 {
		t.Errorf("Int(\"10\") = %d, %v", n, ok)
	}
}

func TestParseRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"duplicate key": "Resources:\n  A: {Type: X}\n  A: {Type: Y}\n",
		"alias":         "Resources:\n  A: &a {Type: X}\n  B: *a\n",
		"no resources":  "Parameters: {}\n",
		"no type":       "Resources:\n  A: {Properties: {}}\n",
		"not a mapping": "- a\n- b\n",
		"bad getatt":    "Resources:\n  A: {Type: X, Properties: {B: !GetAtt NoDot}}\n",
	} {
		if _, err := infra.Parse([]byte(doc)); !errors.Is(err, infra.ErrTemplate) {
			t.Errorf("%s: err = %v, want ErrTemplate", name, err)
		}
	}
}

func TestFunctionPropertiesMergesGlobals(t *testing.T) {
	tpl, err := infra.Parse([]byte(`
Globals:
  Function:
    Runtime: provided.al2023
    Timeout: 30
    Environment:
      Variables: {A: global, B: global}
Resources:
  F:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 60
      Environment:
        Variables: {B: own, C: own}
`))
	if err != nil {
		t.Fatal(err)
	}
	p := tpl.FunctionProperties("F")
	if p["Runtime"] != "provided.al2023" || p["Timeout"] != int64(60) {
		t.Errorf("Runtime, Timeout = %v, %v", p["Runtime"], p["Timeout"])
	}
	want := map[string]any{"A": "global", "B": "own", "C": "own"}
	if got := infra.Map(infra.Path(p, "Environment", "Variables")); !reflect.DeepEqual(got, want) {
		t.Errorf("variables = %v, want %v", got, want)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(readAll(f, templatePath))
	f.Add([]byte("Resources:\n  A: {Type: X, Properties: {B: !Sub [a, {}], C: !GetAtt [a]}}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tpl, err := infra.Parse(b)
		if err != nil {
			if !errors.Is(err, infra.ErrTemplate) {
				t.Fatalf("error %v does not wrap ErrTemplate", err)
			}
			return
		}
		for id := range tpl.Resources {
			for _, v := range tpl.Resources[id].Properties {
				infra.Canonical(v)
			}
			tpl.FunctionProperties(id)
		}
	})
}

// ---------------------------------------------------------------- env reads

func TestEnvReads(t *testing.T) {
	root := moduleRoot(t)
	got, err := infra.EnvReads(context.Background(), root, "infra/testdata/envmain")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"FROM_CONST", "VIA_LOOKUP", "VIA_METHOD", "VIA_PARAM"}
	if r := got["infra/testdata/envmain"]; !slices.Equal(r, want) {
		t.Errorf("reads = %v, want %v (NEVER_CALLED is not reachable from main)", r, want)
	}
	if _, err := infra.EnvReads(context.Background(), root, "infra/testdata/envdynamic"); err == nil || !strings.Contains(err.Error(), "not a constant") {
		t.Errorf("a non-constant name must be refused, got %v", err)
	}
	if _, err := infra.EnvReads(context.Background(), root, "events"); err == nil {
		t.Error("a package that is not main must be refused")
	}
}

// TestEnvReadsOfTheLambdas pins what the analysis finds in the real mains,
// so that a change to how they read their environment is seen here first.
func TestEnvReadsOfTheLambdas(t *testing.T) {
	got, err := infra.EnvReads(context.Background(), moduleRoot(t), sources()...)
	if err != nil {
		t.Fatal(err)
	}
	core := []string{"AWS_REGION", "CONNECTIONS_TABLE", "DYNAMODB_ENDPOINT", "EVENTS_TABLE", "EVENT_BUS_NAME", "EVENT_SOURCE", "JWT_AUDIENCE",
		"JWT_ISSUER", "JWT_JWKS_URL", "JWT_PUBLIC_KEY", "LOG_LEVEL", "REQUESTS_TABLE", "VIEWS_TABLE", "WEBSOCKET_ENDPOINT"}
	want := map[string][]string{
		"lambdas/api":        {"AWS_REGION", "DYNAMODB_ENDPOINT", "EVENTS_TABLE", "LOG_LEVEL", "VIEWS_TABLE"},
		"lambdas/connect":    core,
		"lambdas/disconnect": core,
		"lambdas/router":     core,
		"lambdas/processor":  core,
		"lambdas/projector":  core,
		"lambdas/fanout":     core,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("EnvReads =\n%v\nwant\n%v", got, want)
	}
}
