package local

import (
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/streamer/streamer/bus/pattern"
)

// ErrSlowSubscriber ends a tail subscription whose reader fell more than
// Config.TailBuffer events behind.
var ErrSlowSubscriber = errors.New("tail subscriber too slow: events were dropped")

// Subscription receives the EventBridge-shaped JSON of every published
// event its pattern matches, from the moment it subscribed.
type Subscription struct {
	C       <-chan []byte // closed when the subscription ends
	c       chan []byte
	pattern *pattern.Pattern
	bus     *Bus

	mu   sync.Mutex
	done bool
	err  error
}

// Subscribe starts a tail subscription; p nil matches every event. Close
// it when done.
func (b *Bus) Subscribe(p *pattern.Pattern) (*Subscription, error) {
	c := make(chan []byte, b.cfg.TailBuffer)
	s := &Subscription{C: c, c: c, pattern: p, bus: b}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	b.tails[s] = struct{}{}
	return s, nil
}

// offer hands msg to the subscriber without blocking the bus; a full
// buffer ends the subscription.
func (s *Subscription) offer(msg []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return
	}
	select {
	case s.c <- msg:
	default:
		s.done, s.err = true, ErrSlowSubscriber
		close(s.c)
	}
}

func (s *Subscription) end(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.done {
		s.done, s.err = true, err
		close(s.c)
	}
}

// Err says why C was closed: ErrSlowSubscriber, ErrClosed, or nil after
// Close.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	delete(s.bus.tails, s)
	s.bus.mu.Unlock()
	s.end(nil)
}

// TailHandler streams published events as NDJSON (one EventBridge-shaped
// event per line) to a GET request until the client goes away or the bus
// closes. The optional query parameter pattern is an EventBridge event
// pattern; an invalid one is a 400 with the reason. The dev server mounts
// it at /events/tail.
func (b *Bus) TailHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		var p *pattern.Pattern
		if src := r.URL.Query().Get("pattern"); src != "" {
			var err error
			if p, err = pattern.Compile([]byte(src)); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		flusher, ok := w.(http.Flusher)
		if !ok {
			http.Error(w, "streaming unsupported", http.StatusInternalServerError)
			return
		}
		sub, err := b.Subscribe(p)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		defer sub.Close()
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		flusher.Flush()
		for {
			select {
			case <-r.Context().Done():
				return
			case msg, ok := <-sub.C:
				if !ok {
					if err := sub.Err(); err != nil {
						b.log.Warn("tail ended", "error", err, "remote", r.RemoteAddr)
					}
					return
				}
				if _, err := fmt.Fprintf(w, "%s\n", msg); err != nil {
					return
				}
				flusher.Flush()
			}
		}
	})
}
