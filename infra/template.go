package infra

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v4"
)

// ErrTemplate is wrapped by every error about a template that cannot be
// read.
var ErrTemplate = errors.New("infra: bad template")

// Template is a parsed CloudFormation/SAM template. Values are plain Go
// values: map[string]any, []any, string, int64, float64, bool and nil.
// Short-form intrinsics are read into their long form: !Ref X is
// {"Ref": "X"}, !GetAtt X.A is {"Fn::GetAtt": ["X", "A"]}, !Sub s is
// {"Fn::Sub": s}, and so on.
type Template struct {
	Parameters map[string]map[string]any
	Conditions map[string]any
	Globals    map[string]any
	Resources  map[string]Resource
	Outputs    map[string]any
}

// Resource is one entry of Resources.
type Resource struct {
	ID             string
	Type           string
	Properties     map[string]any
	Metadata       map[string]any
	DependsOn      []string
	DeletionPolicy string
}

// Load reads and parses the template at path.
func Load(path string) (*Template, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTemplate, err)
	}
	t, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Parse parses a template.
func Parse(b []byte) (*Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTemplate, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, fmt.Errorf("%w: not one YAML document", ErrTemplate)
	}
	v, err := toValue(doc.Content[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTemplate, err)
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: the document is not a mapping", ErrTemplate)
	}
	t := &Template{
		Parameters: map[string]map[string]any{},
		Conditions: Map(root["Conditions"]),
		Globals:    Map(root["Globals"]),
		Resources:  map[string]Resource{},
		Outputs:    Map(root["Outputs"]),
	}
	for name, p := range Map(root["Parameters"]) {
		t.Parameters[name] = Map(p)
	}
	resources, ok := root["Resources"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: no Resources mapping", ErrTemplate)
	}
	for id, rv := range resources {
		m, ok := rv.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: resource %s is not a mapping", ErrTemplate, id)
		}
		r := Resource{ID: id, Type: Str(m["Type"]), Properties: Map(m["Properties"]), Metadata: Map(m["Metadata"]),
			DeletionPolicy: Str(m["DeletionPolicy"])}
		switch d := m["DependsOn"].(type) {
		case string:
			r.DependsOn = []string{d}
		case []any:
			for _, x := range d {
				r.DependsOn = append(r.DependsOn, Str(x))
			}
		}
		if r.Type == "" {
			return nil, fmt.Errorf("%w: resource %s has no Type", ErrTemplate, id)
		}
		t.Resources[id] = r
	}
	return t, nil
}

// toValue converts a YAML node, reading CloudFormation's short-form tags.
func toValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.AliasNode:
		return nil, fmt.Errorf("line %d: YAML aliases are not allowed in CloudFormation templates", n.Line)
	case yaml.ScalarNode:
		if fn, ok := intrinsicTag(n.Tag); ok {
			return shortForm(fn, n.Value, n.Line)
		}
		return scalar(n)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := toValue(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		if fn, ok := intrinsicTag(n.Tag); ok {
			return map[string]any{fn: out}, nil
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if _, dup := out[k]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", n.Content[i].Line, k)
			}
			v, err := toValue(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		if fn, ok := intrinsicTag(n.Tag); ok {
			return map[string]any{fn: out}, nil
		}
		return out, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
}

// intrinsicTag maps a short-form tag to its long-form key: !Ref → Ref,
// !Condition → Condition, !Sub → Fn::Sub, …
func intrinsicTag(tag string) (string, bool) {
	if !strings.HasPrefix(tag, "!") || strings.HasPrefix(tag, "!!") {
		return "", false
	}
	name := tag[1:]
	if name == "Ref" || name == "Condition" {
		return name, true
	}
	return "Fn::" + name, true
}

func shortForm(fn, value string, line int) (any, error) {
	if fn == "Fn::GetAtt" {
		res, attr, ok := strings.Cut(value, ".")
		if !ok {
			return nil, fmt.Errorf("line %d: !GetAtt %q is not Resource.Attribute", line, value)
		}
		return map[string]any{fn: []any{res, attr}}, nil
	}
	return map[string]any{fn: value}, nil
}

func scalar(n *yaml.Node) (any, error) {
	switch n.Tag {
	case "!!null":
		return nil, nil
	case "!!bool":
		return strconv.ParseBool(strings.ToLower(n.Value))
	case "!!int":
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n.Line, err)
		}
		return i, nil
	case "!!float":
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n.Line, err)
		}
		return f, nil
	}
	return n.Value, nil
}

// Map returns v as a mapping, or nil.
func Map(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// List returns v as a list; a single value is a list of one.
func List(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	}
	return []any{v}
}

// Str returns v as a string ("" if it is not one).
func Str(v any) string {
	s, _ := v.(string)
	return s
}

// Int returns v as an integer: a YAML integer, a whole float or a string
// of digits, as CloudFormation accepts.
func Int(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case float64:
		if x == float64(int64(x)) {
			return int64(x), true
		}
	case string:
		i, err := strconv.ParseInt(x, 10, 64)
		return i, err == nil
	}
	return 0, false
}

// Bool returns v as a boolean: a YAML boolean or "true"/"false".
func Bool(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		b, err := strconv.ParseBool(x)
		return b, err == nil
	}
	return false, false
}

// Ref returns X of {"Ref": "X"}.
func Ref(v any) (string, bool) {
	m := Map(v)
	if len(m) != 1 {
		return "", false
	}
	s, ok := m["Ref"].(string)
	return s, ok
}

// GetAtt returns X and A of {"Fn::GetAtt": ["X", "A"]} (or "X.A").
func GetAtt(v any) (resource, attr string, ok bool) {
	m := Map(v)
	if len(m) != 1 {
		return "", "", false
	}
	switch x := m["Fn::GetAtt"].(type) {
	case []any:
		if len(x) == 2 {
			r, a := Str(x[0]), Str(x[1])
			return r, a, r != "" && a != ""
		}
	case string:
		r, a, ok := strings.Cut(x, ".")
		return r, a, ok
	}
	return "", "", false
}

// Canonical writes a value built of literals, Ref, Fn::GetAtt and Fn::Sub
// as one string in Fn::Sub syntax: {"Ref": "X"} is "${X}", GetAtt X.A is
// "${X.A}", Fn::Sub s is s and a literal is itself. Other values (lists,
// maps, other intrinsics) are "" and false. Comparing canonical strings
// compares what the values resolve to, whichever form the template uses.
func Canonical(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int64, float64, bool:
		return fmt.Sprint(x), true
	}
	if r, ok := Ref(v); ok {
		return "${" + r + "}", true
	}
	if r, a, ok := GetAtt(v); ok {
		return "${" + r + "." + a + "}", true
	}
	m := Map(v)
	if len(m) == 1 {
		switch s := m["Fn::Sub"].(type) {
		case string:
			return s, true
		case []any:
			if len(s) == 2 && len(Map(s[1])) == 0 {
				return Str(s[0]), Str(s[0]) != ""
			}
		}
	}
	return "", false
}

var subVar = regexp.MustCompile(`\$\{([^!}][^}]*)\}`)

// Referenced returns the names a canonical string refers to: "X" for ${X}
// and ${X.Attr}; pseudo parameters (AWS::…) are left out.
func Referenced(canonical string) []string {
	var out []string
	for _, m := range subVar.FindAllStringSubmatch(canonical, -1) {
		name, _, _ := strings.Cut(m[1], ".")
		if !strings.HasPrefix(name, "AWS::") && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// Path walks maps by key: Path(v, "A", "B") is v["A"]["B"], or nil.
func Path(v any, keys ...string) any {
	for _, k := range keys {
		m := Map(v)
		if m == nil {
			return nil
		}
		v = m[k]
	}
	return v
}

// OfType returns the resources of type typ, sorted by logical ID.
func (t *Template) OfType(typ string) []Resource {
	var out []Resource
	for _, id := range slices.Sorted(maps.Keys(t.Resources)) {
		if r := t.Resources[id]; r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// FunctionProperties returns the properties of the AWS::Serverless::Function
// id with SAM's Globals.Function applied: a property the function sets
// wins, except Environment.Variables, which are merged (the function's win
// on a clash).
func (t *Template) FunctionProperties(id string) map[string]any {
	r, ok := t.Resources[id]
	if !ok {
		return nil
	}
	out := map[string]any{}
	globals := Map(t.Globals["Function"])
	maps.Copy(out, globals)
	maps.Copy(out, r.Properties)
	vars := map[string]any{}
	maps.Copy(vars, Map(Path(globals, "Environment", "Variables")))
	maps.Copy(vars, Map(Path(r.Properties, "Environment", "Variables")))
	if len(vars) > 0 {
		env := map[string]any{}
		maps.Copy(env, Map(out["Environment"]))
		env["Variables"] = vars
		out["Environment"] = env
	}
	return out
}
