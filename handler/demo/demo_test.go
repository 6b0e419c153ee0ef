package demo_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamer/streamer/handler"
	"github.com/streamer/streamer/handler/demo"
)

// recorder is an in-memory Reporter for unit tests of the handlers' logic
// (the processor's Reporter is tested against the SQLite store).
type recorder struct {
	mu        sync.Mutex
	pcts      []float64
	msgs      []string
	meta      []map[string]any
	result    json.RawMessage
	failCode  string
	failMsg   string
	retryable bool
}

func (r *recorder) Report(ctx context.Context, p float64, m string) error {
	return r.ReportWithMetadata(ctx, p, m, nil)
}
func (r *recorder) ReportWithMetadata(_ context.Context, p float64, m string, md map[string]any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(r.pcts); n > 0 && p < r.pcts[n-1] {
		return handler.ErrPercentageDecreased
	}
	r.pcts, r.msgs, r.meta = append(r.pcts, p), append(r.msgs, m), append(r.meta, md)
	return nil
}
func (r *recorder) Complete(_ context.Context, res json.RawMessage) error {
	r.result = res
	return nil
}
func (r *recorder) Fail(_ context.Context, code, msg string, retryable bool) error {
	r.failCode, r.failMsg, r.retryable = code, msg, retryable
	return nil
}

var fast = demo.Options{Steps: 4, StepDelay: time.Millisecond}

func TestValidation(t *testing.T) {
	tests := []struct {
		h       handler.Handler
		payload string
		errHas  string // "" = valid
	}{
		{demo.Echo{}, `{"a":[1,2]}`, ""},
		{demo.Echo{}, ` {} `, ""},
		{demo.Echo{}, ``, "JSON object"},
		{demo.Echo{}, `[1]`, "JSON object"},
		{demo.Echo{}, `"x"`, "JSON object"},
		{demo.Echo{}, `{"a":`, "JSON object"},
		{demo.NewGenerateReport(fast), ``, ""},
		{demo.NewGenerateReport(fast), `null`, ""},
		{demo.NewGenerateReport(fast), `{}`, ""},
		{demo.NewGenerateReport(fast), `{"rows":1}`, ""},
		{demo.NewGenerateReport(fast), `{"rows":1000000,"stepDelay":"250ms"}`, ""},
		{demo.NewGenerateReport(fast), `{"rows":0}`, "rows must be within"},
		{demo.NewGenerateReport(fast), `{"rows":1000001}`, "rows must be within"},
		{demo.NewGenerateReport(fast), `{"rows":1.5}`, "payload"},
		{demo.NewGenerateReport(fast), `{"rows":"10"}`, "payload"},
		{demo.NewGenerateReport(fast), `{"stepDelay":"soon"}`, "stepDelay"},
		{demo.NewGenerateReport(fast), `{"stepDelay":"-1s"}`, "stepDelay must be within"},
		{demo.NewGenerateReport(fast), `{"stepDelay":"2m"}`, "stepDelay must be within"},
		{demo.NewGenerateReport(fast), `{"colour":"red"}`, "unknown field"},
		{demo.NewGenerateReport(fast), `[]`, "JSON object"},
		{demo.NewGenerateReport(fast), `{"rows":1} {}`, "after the JSON object"},
		{demo.NewFail(fast), ``, ""},
		{demo.NewFail(fast), `{"message":"disk full","retryable":true,"stepDelay":"0s"}`, ""},
		{demo.NewFail(fast), `{"message":"` + strings.Repeat("x", 1025) + `"}`, "longer than 1024"},
		{demo.NewFail(fast), `{"code":"other"}`, "unknown field"},
	}
	for _, tc := range tests {
		t.Run(tc.h.Action()+" "+tc.payload, func(t *testing.T) {
			err := tc.h.Validate(&handler.Request{Action: tc.h.Action(), Payload: json.RawMessage(tc.payload)})
			switch {
			case tc.errHas == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)):
				t.Fatalf("error %v, want one containing %q", err, tc.errHas)
			}
		})
	}
}

func TestRegister(t *testing.T) {
	r := handler.NewRouter()
	if err := demo.Register(r, demo.Options{}); err != nil {
		t.Fatal(err)
	}
	if got := r.Actions(); !slices.Equal(got, []string{"echo", "fail", "generate_report"}) {
		t.Fatalf("actions %v", got)
	}
	if err := demo.Register(r, demo.Options{}); !errors.Is(err, handler.ErrDuplicateAction) {
		t.Fatalf("second Register: %v", err)
	}
	// Defaults: generate_report is a ~10 s job, async under the default
	// threshold; echo is sync.
	gr, _ := r.Lookup(demo.GenerateReportAction)
	echo, _ := r.Lookup(demo.EchoAction)
	fail, _ := r.Lookup(demo.FailAction)
	if gr.EstimatedDuration() != 10*time.Second || !r.Async(gr) || !r.Async(fail) || r.Async(echo) {
		t.Fatal("default estimates")
	}
	// Fast options: under the threshold, but Process still asks for a worker.
	fastGR := demo.NewGenerateReport(fast)
	if r.Async(fastGR) {
		t.Fatal("fast generate_report should be under the threshold")
	}
	if _, err := fastGR.Process(context.Background(), &handler.Request{}); !errors.Is(err, handler.ErrAsyncRequired) {
		t.Fatalf("Process: %v", err)
	}
}

func TestEcho(t *testing.T) {
	resp, err := demo.Echo{}.Process(context.Background(), &handler.Request{Payload: json.RawMessage(" {\"k\":\"v\"}\n")})
	if err != nil || string(resp.Result) != `{"k":"v"}` {
		t.Fatalf("%s, %v", resp.Result, err)
	}
}

func TestGenerateReport(t *testing.T) {
	rec := &recorder{}
	h := demo.NewGenerateReport(fast)
	req := &handler.Request{ID: "r-7", Action: demo.GenerateReportAction, Payload: json.RawMessage(`{"rows":10,"stepDelay":"0s"}`), Attempt: 1}
	if err := h.ProcessWithProgress(context.Background(), req, rec); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.pcts, []float64{0, 25, 50, 75, 100}) {
		t.Fatalf("progress %v", rec.pcts)
	}
	if rec.msgs[0] != "starting" || rec.msgs[4] != "done" || !strings.HasPrefix(rec.msgs[1], "step 1/4: ") {
		t.Fatalf("messages %q", rec.msgs)
	}
	if rec.meta[2]["rows"] != 5 {
		t.Fatalf("metadata %v", rec.meta)
	}
	var res demo.ReportResult
	if err := json.Unmarshal(rec.result, &res); err != nil || res.ReportID != "report-r-7" || res.Rows != 10 {
		t.Fatalf("result %s (%v)", rec.result, err)
	}
}

func TestGenerateReportStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(handler.ErrCancelled)
	rec := &recorder{}
	err := demo.NewGenerateReport(demo.Options{Steps: 3, StepDelay: time.Hour}).ProcessWithProgress(ctx, &handler.Request{}, rec)
	if !errors.Is(err, handler.ErrCancelled) || rec.result != nil || len(rec.pcts) != 1 {
		t.Fatalf("err %v, reports %v, result %s", err, rec.pcts, rec.result)
	}
}

func TestFail(t *testing.T) {
	rec := &recorder{}
	err := demo.NewFail(fast).ProcessWithProgress(context.Background(),
		&handler.Request{Payload: json.RawMessage(`{"message":"disk full","retryable":true}`)}, rec)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.pcts, []float64{0, 25, 50}) || rec.failCode != demo.FailCode || rec.failMsg != "disk full" || !rec.retryable {
		t.Fatalf("%+v", rec)
	}
	rec = &recorder{}
	if err := demo.NewFail(demo.Options{Steps: 1, StepDelay: time.Millisecond}).ProcessWithProgress(context.Background(), &handler.Request{}, rec); err != nil {
		t.Fatal(err)
	}
	if rec.failMsg != "demo failure" || rec.retryable || rec.pcts[len(rec.pcts)-1] != 50 {
		t.Fatalf("defaults: %+v", rec)
	}
}
