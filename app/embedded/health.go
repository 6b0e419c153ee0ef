package embedded

import (
	"encoding/json"
	"net/http"
)

// Consumers of the local feed, by checkpoint name.
var consumerNames = []string{"projector", "fanout"}

// health answers GET /healthz: the log's last position, each consumer's
// checkpoint (its lag is the difference) and the open sockets.
func health(w http.ResponseWriter, r *http.Request, l *Local, connections int) {
	w.Header().Set("Content-Type", "application/json")
	pos, err := l.Store.LastPosition(r.Context())
	if err != nil {
		l.log.ErrorContext(r.Context(), "health check failed", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(map[string]any{"status": "unavailable", "error": "event store unreachable"})
		return
	}
	cps := map[string]int64{}
	for _, name := range consumerNames {
		cp, err := l.Feed.Get(r.Context(), name)
		if err != nil {
			l.log.ErrorContext(r.Context(), "health check failed", "consumer", name, "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(w).Encode(map[string]any{"status": "unavailable", "error": "feed state unreachable"})
			return
		}
		cps[name] = cp
	}
	json.NewEncoder(w).Encode(map[string]any{
		"status": "ok", "store": "sqlite", "lastPosition": pos, "consumers": cps, "connections": connections,
	})
}
