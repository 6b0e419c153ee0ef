package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamer/streamer/audit"
	"github.com/streamer/streamer/events"
	"github.com/streamer/streamer/httpapi"
	"github.com/streamer/streamer/projections"
)

// TestAPI runs the API suite on both backends (SQLite, and DynamoDB on
// moto), each through both transports (the local HTTP server behind
// Authenticate, and API Gateway events through LambdaHandler). Every
// response is validated against docs/openapi.yaml, and every response the
// document lists must have been received.
func TestAPI(t *testing.T) {
	for _, bk := range []struct {
		name string
		open func(*testing.T) *backend
	}{{"sqlite", sqliteBackend}, {"dynamodb", dynamoBackend}} {
		t.Run(bk.name, func(t *testing.T) {
			sp := loadSpec(t)
			b := bk.open(t)
			w := seed(t, b)
			api, err := httpapi.New(httpapi.Config{Store: b.store, Reader: b.reader, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			transports := []transport{newHTTPTransport(t, api), &lambdaTransport{handler: httpapi.LambdaHandler(api)}}
			for _, tr := range transports {
				t.Run(tr.name(), func(t *testing.T) { runSuite(t, &suite{b: b, w: w, spec: sp, tr: tr}) })
			}
			t.Run("tamper", func(t *testing.T) { runTamper(t, b, sp, transports) })
			t.Run("store failures", func(t *testing.T) { runFaults(t, b, w, sp) })
			sp.checkCoverage(t)
		})
	}
}

// quiet discards the API's logs (refusals, broken chains) in tests.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type suite struct {
	b    *backend
	w    *world
	spec *spec
	tr   transport
}

// call sends a request and checks the response against the document.
func (s *suite) call(t *testing.T, who, method, target string) response {
	t.Helper()
	r := s.tr.do(t, who, method, target)
	s.spec.check(t, method, target, r.status, r.header, r.body)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q", method, target, ct)
	}
	return r
}

func (s *suite) get(t *testing.T, who, target string) response {
	t.Helper()
	return s.call(t, who, http.MethodGet, target)
}

// ok decodes a 200 response into T.
func ok[T any](t *testing.T, r response) T {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.status, r.body)
	}
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %T: %v\n%s", v, err, r.body)
	}
	return v
}

// fails asserts an error response and returns its message.
func fails(t *testing.T, r response, status int, code string) string {
	t.Helper()
	var body httpapi.ErrorBody
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("error body: %v\n%s", err, r.body)
	}
	if r.status != status || body.Error.Code != code {
		t.Fatalf("got %d %q (%s), want %d %q", r.status, body.Error.Code, body.Error.Message, status, code)
	}
	if body.Error.Message == "" {
		t.Fatal("error without a message")
	}
	return body.Error.Message
}

func ids(vs []projections.RequestView) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.RequestID
	}
	return out
}

func versions(es []audit.Entry) []int64 {
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = e.Version
	}
	return out
}

func seq(from, to int64) []int64 {
	var out []int64
	for v := from; v <= to; v++ {
		out = append(out, v)
	}
	return out
}

// at renders a time for a query string.
func at(tm time.Time) string { return url.QueryEscape(tm.UTC().Format(time.RFC3339Nano)) }

// cursorOf builds a cursor from raw JSON, as a forger would.
func cursorOf(raw string) string { return base64.RawURLEncoding.EncodeToString([]byte(raw)) }

// historyPages follows the cursor of target (which has a query string)
// and returns the pages.
func (s *suite) historyPages(t *testing.T, who, target string) []httpapi.HistoryPage {
	t.Helper()
	var pages []httpapi.HistoryPage
	for next := target; ; {
		p := ok[httpapi.HistoryPage](t, s.get(t, who, next))
		pages = append(pages, p)
		if p.NextCursor == "" {
			return pages
		}
		if len(pages) > 50 {
			t.Fatal("history does not end")
		}
		next = target + "&cursor=" + url.QueryEscape(p.NextCursor)
	}
}

// listPages follows the cursor of a list query.
func (s *suite) listPages(t *testing.T, who, target string) [][]string {
	t.Helper()
	var pages [][]string
	for next := target; ; {
		p := ok[httpapi.RequestList](t, s.get(t, who, next))
		pages = append(pages, ids(p.Requests))
		if p.NextCursor == "" {
			return pages
		}
		if len(pages) > 50 {
			t.Fatal("list does not end")
		}
		next = target + "&cursor=" + url.QueryEscape(p.NextCursor)
	}
}

// runSuite runs every API test through one transport.
func runSuite(t *testing.T, s *suite) {
	for _, c := range []struct {
		name string
		test func(*testing.T)
	}{
		{"view", s.testView},
		{"view not projected yet is replayed from the log", s.testUnprojectedView},
		{"authorization", s.testAuthorization},
		{"history in pages", s.testHistoryInPages},
		{"as of", s.testAsOf},
		{"verify ok", s.testVerifyOk},
		{"lists", s.testLists},
		{"bad parameters", s.testBadParameters},
		{"routes", s.testRoutes},
	} {
		t.Run(c.name, c.test)
	}
}

func (s *suite) testView(t *testing.T) {
	w := s.w
	v := ok[projections.RequestView](t, s.get(t, "alice", "/requests/"+w.long))
	if v.RequestID != w.long || v.Status != "completed" || v.Version != 12 || v.Percentage != 100 ||
		v.Owner != "alice" || v.Tenant != "acme" || v.Action != "generate_report" || string(v.Result) != `{"rows":1200}` {
		t.Fatalf("view = %+v", v)
	}
	v = ok[projections.RequestView](t, s.get(t, "alice", "/requests/"+w.a3))
	if v.Status != "running" || v.Percentage != 42 || v.Message != "generating rows" || v.Version != 3 {
		t.Fatalf("running view = %+v", v)
	}
}

func (s *suite) testUnprojectedView(t *testing.T) {
	w := s.w
	v := ok[projections.RequestView](t, s.get(t, "alice", "/requests/"+w.unprojected))
	if v.RequestID != w.unprojected || v.Status != "running" || v.Version != 2 || v.Owner != "alice" {
		t.Fatalf("view = %+v", v)
	}
	fails(t, s.get(t, "bob", "/requests/"+w.unprojected), 403, "forbidden")
}

func (s *suite) testAuthorization(t *testing.T) {
	w := s.w
	for _, ep := range []string{"", "/events", "/verify", "?asOf=" + at(w.longEvs[3].Time), "/events?asOf=" + at(w.longEvs[3].Time)} {
		path, query, _ := strings.Cut(ep, "?")
		target := func(id string) string {
			tg := "/requests/" + id + path
			if query != "" {
				tg += "?" + query
			}
			return tg
		}
		t.Run(strings.TrimPrefix(ep, "/"), func(t *testing.T) {
			for _, who := range []string{"alice", "dave"} {
				if r := s.get(t, who, target(w.long)); r.status != 200 {
					t.Fatalf("%s: %d %s", who, r.status, r.body)
				}
			}
			msg := fails(t, s.get(t, "bob", target(w.long)), 403, "forbidden")
			if !strings.Contains(msg, "audit:read") {
				t.Errorf("403 message %q does not name the permission", msg)
			}
			r := s.get(t, "", target(w.long))
			fails(t, r, 401, "unauthorized")
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without WWW-Authenticate: Bearer: %v", r.header)
			}
			// Another tenant, even an auditor, gets exactly what a
			// request that does not exist gets.
			missing := "nope-" + events.NewID()
			want := fails(t, s.get(t, "alice", target(missing)), 404, "not_found")
			for _, who := range []string{"carol", "erin"} {
				got := fails(t, s.get(t, who, target(w.long)), 404, "not_found")
				if strings.ReplaceAll(got, w.long, missing) != want {
					t.Errorf("%s: 404 %q differs from a missing request's %q", who, got, want)
				}
			}
		})
	}
	if r := s.tr.do(t, "mallory", http.MethodGet, "/requests/"+w.long); r.status != 401 {
		t.Fatalf("unknown caller: %d %s", r.status, r.body)
	}
}

func (s *suite) testHistoryInPages(t *testing.T) {
	w := s.w
	pages := s.historyPages(t, "alice", "/requests/"+w.long+"/events?limit=5")
	if len(pages) != 3 || len(pages[0].Events) != 5 || len(pages[1].Events) != 5 || len(pages[2].Events) != 2 {
		t.Fatalf("pages of %d, want 5, 5, 2", len(pages))
	}
	var all []audit.Entry
	for _, p := range pages {
		if p.RequestID != w.long || p.AsOf != nil {
			t.Fatalf("page header %+v", p)
		}
		all = append(all, p.Events...)
	}
	if !slices.Equal(versions(all), seq(1, 12)) {
		t.Fatalf("versions %v", versions(all))
	}
	one := ok[httpapi.HistoryPage](t, s.get(t, "dave", "/requests/"+w.long+"/events"))
	if one.NextCursor != "" || !slices.Equal(versions(one.Events), seq(1, 12)) {
		t.Fatalf("default page: %v cursor %q", versions(one.Events), one.NextCursor)
	}
	stored := make([]events.Event, len(all))
	for i, en := range all {
		if want := w.longEvs[i]; en.ID != want.ID || en.Hash != want.Hash || en.PrevHash != want.PrevHash ||
			!en.Time.Equal(want.Time) || en.Type != want.Type || en.Actor != want.Meta.Actor || en.Meta != want.Meta {
			t.Fatalf("entry %d = %+v, stored %+v", i+1, en, want)
		}
		stored[i] = en.Event()
	}
	// What the API shows is enough to verify the chain by hand.
	if err := events.Verify(stored); err != nil {
		t.Fatalf("chain from the API's entries: %v", err)
	}
	v1 := all[2] // the schema-1 progress event, upcast
	if v1.SchemaVersion != 2 || string(v1.Data) != `{"percentage":10,"message":"warming up"}` ||
		v1.Stored == nil || v1.Stored.SchemaVersion != 1 || string(v1.Stored.Data) != `{"percent":10,"status":"warming up"}` {
		t.Fatalf("upcast entry = %+v (stored %+v)", v1, v1.Stored)
	}
	for i, want := range map[int]string{0: "submitted generate_report by alice", 1: "started (attempt 1, worker-1)",
		2: "10% warming up", 3: "20% generating rows", 4: "30%", 11: "completed"} {
		if all[i].Summary != want {
			t.Errorf("summary of version %d = %q, want %q", i+1, all[i].Summary, want)
		}
	}
	if all[3].Stored != nil || all[3].SchemaVersion != 2 {
		t.Errorf("current-schema entry has stored %+v", all[3].Stored)
	}
}

func (s *suite) testAsOf(t *testing.T) {
	w := s.w
	sixth := w.longEvs[5].Time // version 6: progress 40
	v := ok[projections.RequestView](t, s.get(t, "alice", "/requests/"+w.long+"?asOf="+at(sixth)))
	if v.Version != 6 || v.Status != "running" || v.Percentage != 40 || v.Message != "generating rows" || !v.CompletedAt.IsZero() {
		t.Fatalf("as of version 6: %+v", v)
	}
	// Just before version 7, still version 6.
	if v := ok[projections.RequestView](t, s.get(t, "alice", "/requests/"+w.long+"?asOf="+at(w.longEvs[6].Time.Add(-time.Microsecond)))); v.Version != 6 {
		t.Fatalf("just before version 7: version %d", v.Version)
	}
	first := ok[projections.RequestView](t, s.get(t, "alice", "/requests/"+w.long+"?asOf="+at(w.longEvs[0].Time)))
	if first.Version != 1 || first.Status != "queued" {
		t.Fatalf("as of the submission: %+v", first)
	}
	// The same instant in another offset, with the '+' left unencoded
	// (it arrives as a space).
	plus := sixth.In(time.FixedZone("", 3600)).Format(time.RFC3339Nano)
	if v := ok[projections.RequestView](t, s.get(t, "alice", "/requests/"+w.long+"?asOf="+plus)); v.Version != 6 {
		t.Fatalf("offset form: version %d", v.Version)
	}

	h := ok[httpapi.HistoryPage](t, s.get(t, "alice", "/requests/"+w.long+"/events?asOf="+at(sixth)))
	if !slices.Equal(versions(h.Events), seq(1, 6)) || h.NextCursor != "" || h.AsOf == nil || !h.AsOf.Equal(sixth) {
		t.Fatalf("history as of version 6: %v cursor %q asOf %v", versions(h.Events), h.NextCursor, h.AsOf)
	}
	pages := s.historyPages(t, "alice", "/requests/"+w.long+"/events?limit=4&asOf="+at(sixth))
	if len(pages) != 2 || !slices.Equal(versions(pages[1].Events), seq(5, 6)) {
		t.Fatalf("as-of pages: %d", len(pages))
	}
	// A page that ends exactly at asOf hands out no cursor to an empty page.
	if p := ok[httpapi.HistoryPage](t, s.get(t, "alice", "/requests/"+w.long+"/events?limit=6&asOf="+at(sixth))); p.NextCursor != "" || len(p.Events) != 6 {
		t.Fatalf("page ending at asOf: %d events, cursor %q", len(p.Events), p.NextCursor)
	}

	before := at(w.longEvs[0].Time.Add(-time.Second))
	for _, target := range []string{"/requests/" + w.long + "?asOf=" + before, "/requests/" + w.long + "/events?asOf=" + before} {
		if msg := fails(t, s.get(t, "alice", target), 404, "not_found"); !strings.Contains(msg, "had not been submitted") {
			t.Errorf("%s: message %q", target, msg)
		}
	}
}

func (s *suite) testVerifyOk(t *testing.T) {
	w := s.w
	res := ok[httpapi.VerifyResult](t, s.get(t, "alice", "/requests/"+w.long+"/verify"))
	if !res.OK || res.Version != 12 || res.BrokenAt != 0 || res.RequestID != w.long {
		t.Fatalf("verify = %+v", res)
	}
}

func (s *suite) testLists(t *testing.T) {
	w := s.w
	cases := []struct {
		who, query string
		want       []string
		pages      int
	}{
		{"alice", "limit=2", w.alice, 3},
		{"alice", "limit=4", w.alice, 2},
		{"alice", "owner=alice&limit=4", w.alice, 2},
		{"alice", "status=running", w.running, 1},
		{"bob", "status=completed", w.bob[1:], 1},            // without audit:read a status list is your own
		{"dave", "status=completed&limit=3", w.completed, 2}, // an auditor's spans the tenant
		{"dave", "owner=bob&limit=1", w.bob, 2},
		{"dave", "owner=alice&status=failed", w.alice[3:4], 1},
		{"carol", "limit=10", w.carol, 1},
		{"erin", "status=completed", w.carol, 1},
		{"dave", "", nil, 1}, // an auditor's own list: dave has none
	}
	for _, c := range cases {
		t.Run(c.who+" "+c.query, func(t *testing.T) {
			pages := s.listPages(t, c.who, "/requests?"+c.query)
			if len(pages) != c.pages || !slices.Equal(slices.Concat(pages...), c.want) {
				t.Fatalf("pages %v, want %v in %d pages", pages, c.want, c.pages)
			}
		})
	}
	t.Run("since", func(t *testing.T) {
		a3 := ok[projections.RequestView](t, s.get(t, "alice", "/requests/"+w.a3))
		pages := s.listPages(t, "alice", "/requests?limit=2&since="+at(a3.SubmittedAt))
		if len(pages) != 2 || !slices.Equal(slices.Concat(pages...), w.alice[:3]) {
			t.Fatalf("since: %v, want %v", pages, w.alice[:3])
		}
		if pages := s.listPages(t, "alice", "/requests?since="+at(time.Now().Add(time.Hour))); len(pages) != 1 || len(pages[0]) != 0 {
			t.Fatalf("since the future: %v", pages)
		}
	})
	fails(t, s.get(t, "alice", "/requests?owner=bob"), 403, "forbidden")
	fails(t, s.get(t, "", "/requests"), 401, "unauthorized")
}

func (s *suite) testBadParameters(t *testing.T) {
	w := s.w
	long := "/requests/" + w.long
	p1 := ok[httpapi.HistoryPage](t, s.get(t, "alice", long+"/events?limit=2"))
	l1 := ok[httpapi.RequestList](t, s.get(t, "alice", "/requests?limit=2"))
	asOfCursor := ok[httpapi.HistoryPage](t, s.get(t, "alice", long+"/events?limit=2&asOf="+at(w.longEvs[5].Time))).NextCursor
	future := at(time.Now().Add(time.Hour))
	cases := []struct {
		target string
		code   string
	}{
		{long + "/events?limit=0", "invalid_limit"},
		{long + "/events?limit=1001", "invalid_limit"},
		{long + "/events?limit=abc", "invalid_limit"},
		{"/requests?limit=2.5", "invalid_limit"},
		{"/requests?limit=-1", "invalid_limit"},
		{long + "?asOf=yesterday", "invalid_time"},
		{long + "?asOf=2026-02-30T00:00:00Z", "invalid_time"},
		{long + "?asOf=2026-11-28", "invalid_time"},
		{long + "?asOf=" + future, "invalid_time"},
		{long + "/events?asOf=1764290000", "invalid_time"},
		{"/requests?since=last%20week", "invalid_time"},
		{long + "/events?cursor=!!!", "invalid_cursor"},
		{long + "/events?cursor=" + cursorOf(`{}`), "invalid_cursor"},
		{long + "/events?cursor=" + cursorOf(`not json`), "invalid_cursor"},
		{long + "/events?cursor=" + cursorOf(`{"k":"events","r":"`+w.long+`","v":1}`), "invalid_cursor"},
		{long + "/events?cursor=" + cursorOf(`{"k":"events","r":"`+w.long+`","v":3,"x":1}`), "invalid_cursor"},
		{"/requests/" + w.a3 + "/events?cursor=" + p1.NextCursor, "invalid_cursor"},                     // another request's
		{long + "/events?asOf=" + at(w.longEvs[5].Time) + "&cursor=" + p1.NextCursor, "invalid_cursor"}, // another asOf
		{long + "/events?cursor=" + asOfCursor, "invalid_cursor"},                                       // asOf dropped
		{long + "/events?cursor=" + l1.NextCursor, "invalid_cursor"},                                    // a list's
		{"/requests?cursor=" + p1.NextCursor, "invalid_cursor"},                                         // a history's
		{"/requests?status=completed&cursor=" + l1.NextCursor, "invalid_cursor"},                        // other filters
		{"/requests?cursor=" + cursorOf(`{"k":"requests","c":"zzz","o":"alice"}`), "invalid_cursor"},    // a forged position
		{"/requests?cursor=" + strings.Repeat("A", 5000), "invalid_cursor"},
		{long + "?foo=1", "invalid_parameter"},
		{long + "/verify?asOf=" + at(w.longEvs[5].Time), "invalid_parameter"},
		{long + "/events?limit=1&limit=2", "invalid_parameter"},
		{long + "/events?limit=%zz", "invalid_parameter"},
		{"/requests?status=bogus", "invalid_parameter"},
		{"/requests/a%2Fb", "invalid_parameter"},
		{"/requests/%FF/events", "invalid_parameter"},
		{"/requests/" + strings.Repeat("x", 600) + "/verify", "invalid_parameter"},
	}
	for _, c := range cases {
		t.Run(c.target[:min(len(c.target), 80)], func(t *testing.T) {
			fails(t, s.get(t, "alice", c.target), 400, c.code)
		})
	}
	// Empty values count as absent: a URL template with unused parameters.
	if l := ok[httpapi.RequestList](t, s.get(t, "alice", "/requests?status=&owner=&since=&limit=&cursor=")); len(l.Requests) != len(w.alice) {
		t.Fatalf("template query: %v", ids(l.Requests))
	}
}

func (s *suite) testRoutes(t *testing.T) {
	w := s.w
	for _, c := range []struct{ method, target string }{
		{http.MethodPost, "/requests"}, {http.MethodDelete, "/requests/" + w.long},
		{http.MethodPut, "/requests/" + w.long + "/events"}, {http.MethodPost, "/requests/" + w.long + "/verify"},
	} {
		r := s.call(t, "alice", c.method, c.target)
		fails(t, r, 405, "method_not_allowed")
		if r.header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow %q", c.method, c.target, r.header.Get("Allow"))
		}
	}
	fails(t, s.get(t, "alice", "/nope"), 404, "not_found")
	fails(t, s.get(t, "alice", "/requests/"+w.long+"/nope"), 404, "not_found")
	fails(t, s.get(t, "", "/nope"), 401, "unauthorized") // nothing is disclosed before authentication
	if r := s.tr.do(t, "alice", http.MethodHead, "/requests/"+w.long); r.status != 200 || len(r.body) != 0 {
		t.Fatalf("HEAD: %d, %d body bytes", r.status, len(r.body))
	}
}

// runTamper alters stored events behind the store's back and checks that
// verification names the altered version, through every transport.
func runTamper(t *testing.T, b *backend, sp *spec, transports []transport) {
	tampered := "t1-" + events.NewID()
	b.append(t, tampered, 0, submitted("alice", "acme", "echo"), started(1), progress(30, "a"), progress(60, "b"), completed(`{}`))
	b.tamper(t, events.RequestStream(tampered), 3, []byte(`{"percentage":99,"message":"tampered"}`))

	unfoldable := "t2-" + events.NewID()
	b.append(t, unfoldable, 0, submitted("alice", "acme", "echo"), started(1), progress(50, ""))
	b.tamper(t, events.RequestStream(unfoldable), 2, []byte(`{"attempt":0}`))

	garbled := "t3-" + events.NewID()
	b.append(t, garbled, 0, submitted("alice", "acme", "echo"), started(1))
	b.tamper(t, events.RequestStream(garbled), 1, []byte(`{"owner":`))

	for _, tr := range transports {
		s := &suite{b: b, spec: sp, tr: tr}
		t.Run(tr.name(), func(t *testing.T) {
			res := ok[httpapi.VerifyResult](t, s.get(t, "alice", "/requests/"+tampered+"/verify"))
			if res.OK || res.BrokenAt != 3 || res.Version != 5 || !strings.Contains(res.Reason, "hash does not match") {
				t.Fatalf("verify of a tampered log = %+v", res)
			}
			h := ok[httpapi.HistoryPage](t, s.get(t, "alice", "/requests/"+tampered+"/events"))
			if len(h.Events) != 5 || string(h.Events[2].Data) != `{"percentage":99,"message":"tampered"}` || h.Events[2].Summary != "99% tampered" {
				t.Fatalf("history shows %s / %q, want the stored (tampered) data", h.Events[2].Data, h.Events[2].Summary)
			}
			evs := make([]events.Event, len(h.Events))
			for i, en := range h.Events {
				evs[i] = en.Event()
			}
			if r := audit.Verify(evs); r.OK || r.BrokenAt != 3 {
				t.Fatalf("by hand from the entries: %+v", r)
			}

			res = ok[httpapi.VerifyResult](t, s.get(t, "alice", "/requests/"+unfoldable+"/verify"))
			if res.OK || res.BrokenAt != 2 {
				t.Fatalf("verify = %+v", res)
			}
			msg := fails(t, s.get(t, "alice", "/requests/"+unfoldable+"?asOf="+at(time.Now())), 500, "internal_error")
			if !strings.Contains(msg, "/verify") {
				t.Errorf("replay failure message %q does not point at verify", msg)
			}
			if v := ok[projections.RequestView](t, s.get(t, "alice", "/requests/"+unfoldable)); v.Version != 3 {
				t.Fatalf("the view projected before the damage: %+v", v)
			}

			// A first event that does not decode: no owner is known, so only
			// auditors of the tenant in its meta may read the request.
			fails(t, s.get(t, "alice", "/requests/"+garbled+"/verify"), 403, "forbidden")
			fails(t, s.get(t, "carol", "/requests/"+garbled+"/verify"), 404, "not_found")
			res = ok[httpapi.VerifyResult](t, s.get(t, "dave", "/requests/"+garbled+"/verify"))
			if res.OK || res.BrokenAt != 1 {
				t.Fatalf("verify = %+v", res)
			}
			h = ok[httpapi.HistoryPage](t, s.get(t, "dave", "/requests/"+garbled+"/events"))
			if string(h.Events[0].Data) != "null" || h.Events[0].Warning == "" {
				t.Fatalf("garbled entry = %+v", h.Events[0])
			}
		})
	}
}
