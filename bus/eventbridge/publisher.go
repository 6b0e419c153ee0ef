package eventbridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/streamer/streamer/bus"
	"github.com/streamer/streamer/events"
)

// Config tunes a Publisher. Zero values take the defaults.
type Config struct {
	// BusName is the event bus (name or ARN); "" is the account's default
	// bus (EVENT_BUS_NAME).
	BusName string
	// Source of every entry (EVENT_SOURCE); default bus.DefaultSource.
	Source string
	// MaxEntrySize: an event whose entry would be larger is published as a
	// reference. Default bus.MaxEntrySize (1 MiB); bus.LegacyMaxEntrySize
	// (256 KiB) for setups that still have the old limit.
	MaxEntrySize int
	// MaxRequestSize bounds the summed entry sizes of one PutEvents call;
	// default MaxEntrySize (EventBridge applies its limit to the request).
	MaxRequestSize int
	// Retries is how often failed entries (and failed calls) are sent again
	// before their events are reported as not published; default 5.
	Retries int
	// Backoff is the first retry's delay, doubled for each further retry up
	// to MaxBackoff, with jitter; defaults 100 ms and 5 s.
	Backoff    time.Duration
	MaxBackoff time.Duration
	Logger     *slog.Logger
}

// Defaults.
const (
	DefaultRetries    = 5
	DefaultBackoff    = 100 * time.Millisecond
	DefaultMaxBackoff = 5 * time.Second
)

func (c Config) withDefaults() Config {
	if c.Source == "" {
		c.Source = bus.DefaultSource
	}
	if c.MaxEntrySize == 0 {
		c.MaxEntrySize = bus.MaxEntrySize
	}
	if c.MaxRequestSize == 0 {
		c.MaxRequestSize = c.MaxEntrySize
	}
	if c.Retries == 0 {
		c.Retries = DefaultRetries
	}
	if c.Backoff == 0 {
		c.Backoff = DefaultBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// refRoom is what a reference entry needs at most: the ref detail of an
// event with a stream name of events.MaxStreamIDLength, plus source and
// detail-type.
const refRoom = 2048

// Validate reports every problem at once (after defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if len(c.Source) > 256 {
		errs = append(errs, errors.New("eventbridge: Source is longer than 256 characters"))
	}
	if c.MaxEntrySize < refRoom {
		errs = append(errs, fmt.Errorf("eventbridge: MaxEntrySize %d is below %d bytes: not even a reference fits", c.MaxEntrySize, refRoom))
	}
	if c.MaxRequestSize < c.MaxEntrySize {
		errs = append(errs, fmt.Errorf("eventbridge: MaxRequestSize %d is below MaxEntrySize %d", c.MaxRequestSize, c.MaxEntrySize))
	}
	if c.Retries < 0 {
		errs = append(errs, errors.New("eventbridge: Retries must be ≥ 0"))
	}
	if c.Backoff < 0 || c.MaxBackoff < c.Backoff {
		errs = append(errs, errors.New("eventbridge: Backoff must be ≥ 0 and ≤ MaxBackoff"))
	}
	return errors.Join(errs...)
}

// Publisher implements bus.Publisher with EventBridge PutEvents.
type Publisher struct {
	api API
	cfg Config
}

var _ bus.Publisher = (*Publisher)(nil)

// New builds a Publisher that calls PutEvents through api (a *Client, or a
// decorator of one).
func New(api API, cfg Config) (*Publisher, error) {
	if api == nil {
		return nil, errors.New("eventbridge: api is required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Publisher{api: api, cfg: cfg.withDefaults()}, nil
}

// item is one event on its way to the bus.
type item struct {
	ev    events.Event
	entry Entry
	size  int
	ref   bool
}

// Publish puts evs on the bus in order: batches of at most ten entries and
// MaxRequestSize bytes; failed entries are retried with backoff.
func (p *Publisher) Publish(ctx context.Context, evs []events.Event) error {
	var failed []bus.Failed
	items := make([]item, 0, len(evs))
	for _, e := range evs {
		it, err := p.entry(e)
		if err != nil {
			failed = append(failed, bus.Failed{Event: e, Err: err})
			continue
		}
		items = append(items, it)
	}
	for _, batch := range p.batches(items) {
		failed = append(failed, p.send(ctx, batch)...)
	}
	if len(failed) > 0 {
		return &bus.PublishError{Failed: failed}
	}
	return nil
}

// entry builds e's PutEvents entry: the full envelope, or a reference when
// that would exceed MaxEntrySize.
func (p *Publisher) entry(e events.Event) (item, error) {
	detail, err := bus.Detail(e)
	if err != nil {
		return item{}, err
	}
	it := item{ev: e}
	it.size = bus.EntrySize(p.cfg.Source, e.Type, detail, true, nil)
	if it.size > p.cfg.MaxEntrySize {
		full := it.size
		if detail, err = bus.RefDetailOf(e); err != nil {
			return item{}, err
		}
		it.ref = true
		it.size = bus.EntrySize(p.cfg.Source, e.Type, detail, true, nil)
		p.cfg.Logger.Info("event too large for the bus: publishing a reference",
			"event_id", e.ID, "stream", e.StreamID, "version", e.Version, "type", e.Type, "entry_size", full, "limit", p.cfg.MaxEntrySize)
	}
	it.entry = Entry{
		Source:       p.cfg.Source,
		DetailType:   e.Type,
		Detail:       string(detail),
		EventBusName: p.cfg.BusName,
		Time:         e.Time,
	}
	return it, nil
}

// batches packs items, in order, into PutEvents requests.
func (p *Publisher) batches(items []item) [][]item {
	var out [][]item
	var cur []item
	size := 0
	for _, it := range items {
		if len(cur) == bus.MaxBatchEntries || (len(cur) > 0 && size+it.size > p.cfg.MaxRequestSize) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, it)
		size += it.size
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// EntryError is the error of one entry EventBridge did not accept.
type EntryError struct {
	Code    string // e.g. "ThrottlingException", "InternalFailure"
	Message string
}

func (e *EntryError) Error() string { return fmt.Sprintf("entry failed: %s: %s", e.Code, e.Message) }

// permanentCodes are entry error codes that a retry cannot fix.
var permanentCodes = map[string]bool{
	"InvalidArgument": true, "MalformedDetail": true, "AccessDeniedException": true,
	"NotAuthorizedForSourceException": true, "NotAuthorizedForDetailTypeException": true,
}

// send puts one batch, retrying what failed, and returns the events that
// were still not accepted.
func (p *Publisher) send(ctx context.Context, batch []item) []bus.Failed {
	pending := batch
	errs := make([]error, len(batch)) // last error of pending[i]
	var failed []bus.Failed
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, p.backoff(attempt)); err != nil {
				for i, it := range pending {
					failed = append(failed, bus.Failed{Event: it.ev, Err: errors.Join(err, errs[i])})
				}
				return failed
			}
		}
		entries := make([]Entry, len(pending))
		for i, it := range pending {
			entries[i] = it.entry
		}
		results, err := p.api.PutEvents(ctx, entries)
		if err == nil && len(results) != len(pending) {
			err = fmt.Errorf("%w: %d results for %d entries sent", ErrBadResponse, len(results), len(pending))
		}
		if err != nil {
			if permanent(err) || attempt >= p.cfg.Retries || ctx.Err() != nil {
				for _, it := range pending {
					failed = append(failed, bus.Failed{Event: it.ev, Err: fmt.Errorf("put events: %w", err)})
				}
				return failed
			}
			p.cfg.Logger.Warn("put events failed; retrying", "entries", len(pending), "attempt", attempt+1, "error", err)
			for i := range errs[:len(pending)] {
				errs[i] = err
			}
			continue
		}
		var next []item
		var nextErrs []error
		codes := map[string]int{}
		for i, r := range results {
			if !r.Failed() {
				continue
			}
			ee := &EntryError{Code: r.ErrorCode, Message: r.ErrorMessage}
			codes[ee.Code]++
			if permanentCodes[ee.Code] || attempt >= p.cfg.Retries {
				failed = append(failed, bus.Failed{Event: pending[i].ev, Err: ee})
				continue
			}
			next = append(next, pending[i])
			nextErrs = append(nextErrs, ee)
		}
		if len(next) == 0 {
			return failed
		}
		p.cfg.Logger.Warn("put events: entries failed; retrying them",
			"failed", len(next), "sent", len(pending), "attempt", attempt+1, "codes", codes)
		pending, errs = next, nextErrs
	}
}

// backoff is the delay before retry n (n ≥ 1): Backoff·2^(n-1), capped at
// MaxBackoff, with jitter over its upper half.
func (p *Publisher) backoff(n int) time.Duration {
	d := p.cfg.Backoff
	for i := 1; i < n && d < p.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.cfg.MaxBackoff)
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// permanent reports whether a failed PutEvents call cannot succeed when
// sent again (see Retryable).
func permanent(err error) bool { return !Retryable(err) }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
