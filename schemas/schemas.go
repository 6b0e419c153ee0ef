package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Files are the schema files, under events/.
//
//go:embed events/*.json
var Files embed.FS

// BaseURL is the base of every schema's $id.
const BaseURL = "https://streamer.dev/schemas/events/"

// ErrInvalidDetail is matched by every validation failure of ValidateDetail.
var ErrInvalidDetail = errors.New("detail does not match its schema")

// ErrUnknownType: there is no schema for the detail-type.
var ErrUnknownType = errors.New("no schema for detail-type")

var (
	once     sync.Once
	compiled map[string]*jsonschema.Schema // file name without .json → schema
	initErr  error
)

func load() {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	names, err := fs.Glob(Files, "events/*.json")
	if err != nil {
		initErr = err
		return
	}
	for _, name := range names {
		b, err := Files.ReadFile(name)
		if err != nil {
			initErr = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			initErr = fmt.Errorf("schema %s: %w", name, err)
			return
		}
		if err := c.AddResource(BaseURL+path.Base(name), doc); err != nil {
			initErr = fmt.Errorf("schema %s: %w", name, err)
			return
		}
	}
	compiled = map[string]*jsonschema.Schema{}
	for _, name := range names {
		base := path.Base(name)
		sch, err := c.Compile(BaseURL + base)
		if err != nil {
			initErr = fmt.Errorf("compile %s: %w", base, err)
			return
		}
		compiled[strings.TrimSuffix(base, ".json")] = sch
	}
}

// Types lists the event types that have a schema.
func Types() ([]string, error) {
	once.Do(load)
	if initErr != nil {
		return nil, initErr
	}
	var types []string
	for name := range compiled {
		if name != "envelope" && name != "ref" {
			types = append(types, name)
		}
	}
	return types, nil
}

// ValidateDetail checks an EventBridge detail against the schema of its
// detail-type, or against ref.json when it is a reference.
func ValidateDetail(detailType string, detail []byte) error {
	once.Do(load)
	if initErr != nil {
		return initErr
	}
	var probe struct {
		Ref json.RawMessage `json:"ref"`
	}
	if err := json.Unmarshal(detail, &probe); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidDetail, err)
	}
	name := detailType
	if probe.Ref != nil {
		name = "ref"
	}
	sch, ok := compiled[name]
	if !ok || name == "envelope" {
		return fmt.Errorf("%w %q", ErrUnknownType, detailType)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(detail))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidDetail, err)
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalidDetail, name, err)
	}
	if probe.Ref != nil {
		var typ struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(detail, &typ) == nil && typ.Type != detailType {
			return fmt.Errorf("%w: reference to a %q under detail-type %q", ErrInvalidDetail, typ.Type, detailType)
		}
	}
	return nil
}
