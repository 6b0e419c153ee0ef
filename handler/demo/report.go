package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/streamer/streamer/handler"
)

// GenerateReportAction is the action of GenerateReport.
const GenerateReportAction = "generate_report"

// ReportPayload is generate_report's payload; both fields are optional.
type ReportPayload struct {
	Rows      *int   `json:"rows,omitempty"`      // 1..1,000,000; default 100
	StepDelay string `json:"stepDelay,omitempty"` // Go duration, 0s..1m; default Options.StepDelay
}

// ReportResult is generate_report's result.
type ReportResult struct {
	ReportID string `json:"reportId"`
	Rows     int    `json:"rows"`
}

// GenerateReport is the async demo handler: it "generates a report" in
// Options.Steps steps, reporting progress 0→100 with a message per step,
// and completes with a ReportResult.
type GenerateReport struct{ opts Options }

var _ handler.ProgressHandler = GenerateReport{}

// NewGenerateReport returns the handler with opts (zero values take the
// defaults: 10 steps of 1 s).
func NewGenerateReport(opts Options) GenerateReport { return GenerateReport{opts: opts.withDefaults()} }

func (GenerateReport) Action() string { return GenerateReportAction }

// EstimatedDuration is Steps × StepDelay (10 s by default, above the
// default async threshold).
func (g GenerateReport) EstimatedDuration() time.Duration {
	return time.Duration(g.opts.Steps) * g.opts.StepDelay
}

// Validate checks the payload: absent or a JSON object with rows in
// 1..1,000,000 and a stepDelay Go duration within 0s..1m.
func (g GenerateReport) Validate(req *handler.Request) error {
	_, _, err := g.parse(req.Payload)
	return err
}

func (g GenerateReport) parse(payload json.RawMessage) (rows int, delay time.Duration, err error) {
	var p ReportPayload
	if err := decodeObject(payload, &p, true); err != nil {
		return 0, 0, err
	}
	rows = DefaultRows
	if p.Rows != nil {
		rows = *p.Rows
		if rows < 1 || rows > MaxRows {
			return 0, 0, fmt.Errorf("rows must be within 1..%d, got %d", MaxRows, rows)
		}
	}
	delay = g.opts.StepDelay
	if d, ok, err := parseStepDelay(p.StepDelay); err != nil {
		return 0, 0, err
	} else if ok {
		delay = d
	}
	return rows, delay, nil
}

// Process always asks for async processing.
func (GenerateReport) Process(context.Context, *handler.Request) (*handler.Response, error) {
	return nil, handler.ErrAsyncRequired
}

// reportPhases name the steps; step i uses phase i*len/steps.
var reportPhases = []string{"querying", "aggregating", "formatting", "rendering"}

// ProcessWithProgress reports 0% ("starting"), one report per step up to
// 100% ("done"), then completes with {"reportId":"report-<requestId>","rows":N}.
func (g GenerateReport) ProcessWithProgress(ctx context.Context, req *handler.Request, r handler.Reporter) error {
	rows, delay, err := g.parse(req.Payload)
	if err != nil {
		return err
	}
	if err := r.Report(ctx, 0, "starting"); err != nil {
		return err
	}
	steps := g.opts.Steps
	for i := 1; i <= steps; i++ {
		if err := sleep(ctx, delay); err != nil {
			return err
		}
		pct := float64(i) * 100 / float64(steps)
		msg := fmt.Sprintf("step %d/%d: %s", i, steps, reportPhases[(i-1)*len(reportPhases)/steps])
		if i == steps {
			msg = "done"
		}
		done := rows * i / steps
		if err := r.ReportWithMetadata(ctx, pct, msg, map[string]any{"rows": done}); err != nil {
			return err
		}
	}
	res, err := json.Marshal(ReportResult{ReportID: "report-" + req.ID, Rows: rows})
	if err != nil {
		return err
	}
	return r.Complete(ctx, res)
}
