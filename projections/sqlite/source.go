package sqlite

import (
	"context"
	"fmt"
	"strconv"

	"github.com/streamer/streamer/events"
	evsqlite "github.com/streamer/streamer/events/sqlite"
	"github.com/streamer/streamer/projections"
)

// LogSource is the resumable projections.Source of the embedded event
// store: it replays the log in global position order, page by page (no
// query stays open while the rebuild writes), and its checkpoint is the
// position of the last event delivered. Positions grow in commit order, so
// a replay that ends when a page comes back empty has delivered every event
// committed before it was called.
func LogSource(s *evsqlite.Store, pageSize int) projections.Source {
	if pageSize <= 0 {
		pageSize = 2000
	}
	return logSource{s: s, page: pageSize}
}

// logPage is one page read ahead.
type logPage struct {
	recs []evsqlite.Record
	err  error
}

// closedPage yields at once: what the deferred drain waits on when no read
// is in flight.
var closedPage = func() <-chan logPage {
	ch := make(chan logPage)
	close(ch)
	return ch
}()

type logSource struct {
	s    *evsqlite.Store
	page int
}

// Replay reads the next page while fn handles the current one, so reading
// the log and folding it overlap.
func (l logSource) Replay(ctx context.Context, checkpoint string, fn func(events.Event, string) error) error {
	after, err := position(checkpoint)
	if err != nil {
		return err
	}
	fetch := func(after int64) <-chan logPage {
		ch := make(chan logPage, 1)
		go func() {
			recs, err := l.s.ReadFrom(ctx, after, l.page)
			ch <- logPage{recs, err}
		}()
		return ch
	}
	next := fetch(after)
	defer func() { <-next }() // never leave a read running behind
	for {
		p := <-next
		next = closedPage
		if p.err != nil {
			return p.err
		}
		if len(p.recs) == 0 {
			return nil
		}
		next = fetch(p.recs[len(p.recs)-1].Position)
		for _, r := range p.recs {
			if err := fn(r.Event, strconv.FormatInt(r.Position, 10)); err != nil {
				return err
			}
		}
	}
}

// Remaining is the span of positions after the checkpoint; positions may
// have gaps, so it is an upper bound.
func (l logSource) Remaining(ctx context.Context, checkpoint string) (int64, error) {
	after, err := position(checkpoint)
	if err != nil {
		return -1, err
	}
	last, err := l.s.LastPosition(ctx)
	if err != nil {
		return -1, err
	}
	return max(last-after, 0), nil
}

func position(checkpoint string) (int64, error) {
	if checkpoint == "" {
		return 0, nil
	}
	p, err := strconv.ParseInt(checkpoint, 10, 64)
	if err != nil || p < 0 {
		return 0, fmt.Errorf("rebuild checkpoint %q is not a log position", checkpoint)
	}
	return p, nil
}
