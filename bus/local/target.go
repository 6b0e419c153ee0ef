package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"

	"github.com/streamer/streamer/bus"
	"github.com/streamer/streamer/events"
)

// ErrPermanent marks a delivery error that retrying cannot fix: the
// delivery goes to the dead letters at once. Wrap it with Permanent.
var ErrPermanent = errors.New("permanent delivery failure")

// Permanent wraps err so that the bus does not retry it.
func Permanent(err error) error { return fmt.Errorf("%w: %w", ErrPermanent, err) }

// RetryPolicy bounds a target's retries. Zero values take the defaults.
type RetryPolicy struct {
	Retries    int           // deliveries after the first; default 5 (negative: none)
	Backoff    time.Duration // first retry's delay, doubled each time; default 100 ms
	MaxBackoff time.Duration // delay cap; default 5 s
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	switch {
	case p.Retries == 0:
		p.Retries = 5
	case p.Retries < 0:
		p.Retries = 0
	}
	if p.Backoff <= 0 {
		p.Backoff = 100 * time.Millisecond
	}
	if p.MaxBackoff < p.Backoff {
		p.MaxBackoff = max(5*time.Second, p.Backoff)
	}
	return p
}

// delay before retry n (n ≥ 1), with jitter over its upper half.
func (p RetryPolicy) delay(n int) time.Duration {
	d := p.Backoff
	for i := 1; i < n && d < p.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

// Target is where a rule delivers. Build one with HandlerTarget,
// LambdaTarget or WebhookTarget.
type Target struct {
	desc        string
	deliver     func(ctx context.Context, d Delivery) error
	retry       RetryPolicy
	deadLetters DeadLetters
}

// WithRetry returns t with another retry policy.
func (t Target) WithRetry(p RetryPolicy) Target { t.retry = p; return t }

// WithDeadLetters returns t recording its failed deliveries in dl instead
// of the bus's sink.
func (t Target) WithDeadLetters(dl DeadLetters) Target { t.deadLetters = dl; return t }

// String describes the target (logs, dead letters).
func (t Target) String() string { return t.desc }

// HandlerTarget delivers the event to an in-process function. An error
// is retried per the target's policy unless it wraps ErrPermanent.
func HandlerTarget(name string, fn func(ctx context.Context, e events.Event) error) Target {
	return Target{desc: "handler " + name, deliver: func(ctx context.Context, d Delivery) error {
		return fn(ctx, d.Event)
	}}
}

// LambdaTarget delivers the event as the awsevents.EventBridgeEvent a
// Lambda function behind an EventBridge rule receives: the same handler
// (the processor's HandleEventBridge) runs on AWS and on the local bus.
func LambdaTarget(name string, fn func(ctx context.Context, ev awsevents.EventBridgeEvent) error) Target {
	return Target{desc: "lambda " + name, deliver: func(ctx context.Context, d Delivery) error {
		return fn(ctx, d.EventBridge)
	}}
}

// ProcessorRule is the rule that starts the processor on the local bus, as
// the EventBridge rule does on AWS: pattern bus.ProcessorPatternFor(source)
// (source "" is bus.DefaultSource), the processor's HandleEventBridge as a
// Lambda-shaped target, and workers deliveries in flight (a worker pool;
// 0 means 4).
func ProcessorRule(source string, handle func(context.Context, awsevents.EventBridgeEvent) error, workers int) Rule {
	if source == "" {
		source = bus.DefaultSource
	}
	if workers == 0 {
		workers = 4
	}
	return Rule{Name: "processor", Pattern: bus.ProcessorPatternFor(source), Target: LambdaTarget("processor", handle), Concurrency: workers}
}

// WebhookOptions tune a webhook target. Zero values take the defaults.
type WebhookOptions struct {
	Retry       RetryPolicy
	Timeout     time.Duration // per attempt; default 10 s
	DeadLetters DeadLetters   // default: the bus's
	Client      *http.Client  // default: a new client
	Header      http.Header   // sent with every request (e.g. an authorization)
}

// WebhookTarget POSTs the EventBridge-shaped event as JSON to url. A 2xx
// answer is delivered; 408, 429, 5xx and transport errors are retried; any
// other status is permanent and dead-lettered at once. Every request
// carries the event ID in X-Streamer-Event-Id, for deduplication.
func WebhookTarget(url string, opts WebhookOptions) Target {
	client := opts.Client
	if client == nil {
		client = &http.Client{}
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return Target{desc: "webhook " + url, retry: opts.Retry, deadLetters: opts.DeadLetters,
		deliver: func(ctx context.Context, d Delivery) error {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(d.JSON))
			if err != nil {
				return Permanent(err)
			}
			for k, vs := range opts.Header {
				for _, v := range vs {
					req.Header.Add(k, v)
				}
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Streamer-Event-Id", d.Event.ID)
			resp, err := client.Do(req)
			if err != nil {
				return fmt.Errorf("post %s: %w", url, err)
			}
			defer resp.Body.Close()
			snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			switch {
			case resp.StatusCode >= 200 && resp.StatusCode < 300:
				return nil
			case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
				return fmt.Errorf("post %s: %s: %s", url, resp.Status, bytes.TrimSpace(snippet))
			default:
				return Permanent(fmt.Errorf("post %s: %s: %s", url, resp.Status, bytes.TrimSpace(snippet)))
			}
		}}
}
