package awsrest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/streamer/streamer/internal/awsrest"
)

// TestErrorOfJSON11: AWS JSON 1.1 error responses (EventBridge's) decode
// to the code and message the SDK's awsJson protocol reads: the
// X-Amzn-ErrorType header first, then the body's __type, then its code,
// stripped of namespace and URI suffix; message or Message.
func TestErrorOfJSON11(t *testing.T) {
	for _, tc := range []struct {
		name        string
		status      int
		header      http.Header
		body        string
		code, msg   string
		serverFault bool
	}{
		{"type and message", 400, nil, `{"__type":"ThrottlingException","message":"Rate exceeded"}`, "ThrottlingException", "Rate exceeded", false},
		{"namespaced type", 400, nil, `{"__type":"com.amazonaws.events#ResourceNotFoundException","Message":"Event bus x does not exist."}`, "ResourceNotFoundException", "Event bus x does not exist.", false},
		{"header wins", 400, http.Header{"X-Amzn-Errortype": {"LimitExceededException:http://internal.amazon.com/coral/"}}, `{"__type":"ValidationException","message":"m"}`, "LimitExceededException", "m", false},
		{"code member", 403, nil, `{"code":"AccessDeniedException","message":"no"}`, "AccessDeniedException", "no", false},
		{"type with suffix", 400, nil, `{"__type":"aws.events#ConcurrentModificationException:http://x/"}`, "ConcurrentModificationException", "", false},
		{"server fault", 500, nil, `{"__type":"InternalException","message":"oops"}`, "InternalException", "oops", true},
		{"not JSON", 503, nil, `<html>Service Unavailable</html>`, "", "", true},
		{"empty body", 429, nil, ``, "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"X-Amzn-Requestid": {"rid"}}
			for k, v := range tc.header {
				h[k] = v
			}
			e := awsrest.ErrorOf(&awsrest.Response{StatusCode: tc.status, Header: h, Body: []byte(tc.body)})
			if e.StatusCode != tc.status || e.Code != tc.code || e.Message != tc.msg || e.RequestID != "rid" || e.ServerFault() != tc.serverFault {
				t.Fatalf("%+v (server fault %v), want status %d code %q message %q server fault %v", e, e.ServerFault(), tc.status, tc.code, tc.msg, tc.serverFault)
			}
			want := tc.code
			if want == "" {
				want = http.StatusText(tc.status)
			}
			if !strings.Contains(e.Error(), want) || !strings.Contains(e.Error(), "rid") {
				t.Fatalf("message %q does not name %s and the request id", e.Error(), want)
			}
		})
	}
}
