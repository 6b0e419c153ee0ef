package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// specFile is the OpenAPI document every response is checked against.
const specFile = "../docs/openapi.yaml"

// spec is the loaded OpenAPI document with its router, and the responses
// (operation and status) the tests have checked against it.
type spec struct {
	doc    *openapi3.T
	router routers.Router

	mu   sync.Mutex
	seen map[string]bool // "GET /requests/{id} 404"
}

func loadSpec(t *testing.T) *spec {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile(specFile)
	if err != nil {
		t.Fatalf("load %s: %v", specFile, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("%s is not valid OpenAPI: %v", specFile, err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &spec{doc: doc, router: router, seen: map[string]bool{}}
}

// check validates one real response of the API (to method target, a path
// with its query) against the document: status, headers and body of a
// documented operation, or the Error schema for a path or method the
// document does not have (404 and 405 from the router).
func (s *spec) check(t *testing.T, method, target string, status int, header http.Header, body []byte) {
	t.Helper()
	req := httptest.NewRequest(method, "http://127.0.0.1:8787"+target, nil)
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		if status != http.StatusNotFound && status != http.StatusMethodNotAllowed && status != http.StatusUnauthorized {
			t.Fatalf("%s %s answered %d but the document has no such operation: %v", method, target, status, err)
		}
		schema := s.doc.Components.Schemas["Error"].Value
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s %s: body is not JSON: %v\n%s", method, target, err, body)
		}
		if err := schema.VisitJSON(v); err != nil {
			t.Fatalf("%s %s: %d body does not match the Error schema: %v\n%s", method, target, status, err, body)
		}
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Fatalf("%s %s: response %d does not match %s: %v\n%s", method, target, status, specFile, err, body)
	}
	s.mu.Lock()
	s.seen[fmt.Sprintf("%s %s %d", method, route.Path, status)] = true
	s.mu.Unlock()
}

// checkCoverage fails for every documented response no test received,
// except those in exempt.
func (s *spec) checkCoverage(t *testing.T, exempt ...string) {
	t.Helper()
	var missing []string
	for path, item := range s.doc.Paths.Map() {
		for method, op := range item.Operations() {
			for code := range op.Responses.Map() {
				key := fmt.Sprintf("%s %s %s", method, path, code)
				if !s.seen[key] && !slices.Contains(exempt, key) && !slices.Contains(exempt, "* "+code) {
					missing = append(missing, key)
				}
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("documented responses no test received:\n  %s", strings.Join(missing, "\n  "))
	}
}
