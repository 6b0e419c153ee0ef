package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Cursors are opaque to clients: base64url (no padding) of a small JSON
// document that records where the next page starts and the query it
// belongs to. A cursor is accepted only with the same path and query
// parameters it was issued for; it grants nothing, since every page is
// authorized like the first one.

// maxCursorLen bounds the cursor parameter (DynamoDB list positions, the
// longest, stay far below it).
const maxCursorLen = 4096

// Cursor kinds.
const (
	kindEvents = "events"
	kindList   = "requests"
)

// errCursor is any cursor that does not decode or does not fit the query.
var errCursor = errors.New("invalid cursor")

// eventsCursor continues GET /requests/{id}/events.
type eventsCursor struct {
	Kind    string `json:"k"`
	Request string `json:"r"`
	From    int64  `json:"v"` // next version to return
	AsOf    string `json:"a,omitempty"`
}

// listCursor continues GET /requests.
type listCursor struct {
	Kind   string `json:"k"`
	Store  string `json:"c"` // the view store's own cursor
	Status string `json:"s,omitempty"`
	Owner  string `json:"o,omitempty"` // the owner listed ("" for a status list of every owner)
	Since  string `json:"t,omitempty"`
}

func encodeCursor(v any) string {
	b, err := json.Marshal(v)
	if err != nil { // the cursor types hold strings and integers only
		panic(fmt.Sprintf("httpapi: encode cursor: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor decodes s into v (a pointer to a cursor type), strictly.
func decodeCursor(s string, v any) error {
	if s == "" || len(s) > maxCursorLen {
		return fmt.Errorf("%w: empty or longer than %d characters", errCursor, maxCursorLen)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return fmt.Errorf("%w: not base64url: %v", errCursor, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", errCursor, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data", errCursor)
	}
	return nil
}

// decodeEventsCursor decodes the cursor of a history page of request id
// with asOf (canonical text, "" for none) and returns the version it
// continues from.
func decodeEventsCursor(s, id, asOf string) (int64, error) {
	var c eventsCursor
	if err := decodeCursor(s, &c); err != nil {
		return 0, err
	}
	switch {
	case c.Kind != kindEvents:
		return 0, fmt.Errorf("%w: not a history cursor", errCursor)
	case c.Request != id:
		return 0, fmt.Errorf("%w: issued for another request", errCursor)
	case c.AsOf != asOf:
		return 0, fmt.Errorf("%w: issued for another asOf", errCursor)
	case c.From < 2:
		return 0, fmt.Errorf("%w: bad position", errCursor)
	}
	return c.From, nil
}

// decodeListCursor decodes the cursor of a list page and checks it belongs
// to the list of want (whose Store is ignored).
func decodeListCursor(s string, want listCursor) (string, error) {
	var c listCursor
	if err := decodeCursor(s, &c); err != nil {
		return "", err
	}
	switch {
	case c.Kind != kindList:
		return "", fmt.Errorf("%w: not a list cursor", errCursor)
	case c.Status != want.Status || c.Owner != want.Owner || c.Since != want.Since:
		return "", fmt.Errorf("%w: issued for other status, owner or since parameters", errCursor)
	case c.Store == "":
		return "", fmt.Errorf("%w: bad position", errCursor)
	}
	return c.Store, nil
}

func badCursor(err error) *apiError {
	return errorf(http.StatusBadRequest, CodeInvalidCursor, "%v; start again without a cursor", err)
}
