package clienttest

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/streamer/streamer/protocol"
)

// handleLocked is the built-in behaviour for one client frame, with the
// semantics of docs/protocol.md.
func (s *Server) handleLocked(c *Conn, in protocol.Inbound) {
	switch in.Action {
	case protocol.ActionPing:
		now := time.Now().UTC()
		c.sendLocked(protocol.Outbound{Type: protocol.TypePong, Action: in.Action, ClientRequestID: in.ClientRequestID, Time: &now})
	case protocol.ActionSubscribe:
		s.subscribeLocked(c, in)
	case protocol.ActionUnsubscribe:
		r := s.requests[in.RequestID]
		if r == nil {
			c.sendLocked(protocol.ErrorFrame(&in, protocol.Errorf(protocol.CodeNotFound, "no request %s", in.RequestID)))
			return
		}
		delete(r.subs, c) // idempotent: not following is fine
		c.sendLocked(protocol.Outbound{Type: protocol.TypeAck, Action: in.Action, RequestID: r.id,
			ClientRequestID: in.ClientRequestID})
	case protocol.ActionCancel:
		s.cancelLocked(c, in)
	case protocol.ActionStatus:
		r := s.requests[in.RequestID]
		if r == nil {
			c.sendLocked(protocol.ErrorFrame(&in, protocol.Errorf(protocol.CodeNotFound, "no request %s", in.RequestID)))
			return
		}
		c.sendLocked(protocol.Outbound{Type: protocol.TypeStatus, Action: in.Action, RequestID: r.id,
			Version: r.head(), ClientRequestID: in.ClientRequestID, Request: r.view()})
	case "echo", "fail":
		s.syncLocked(c, in)
	case "job":
		s.jobLocked(c, in)
	default:
		c.sendLocked(protocol.ErrorFrame(&in, protocol.Errorf(protocol.CodeUnknownAction, "no handler for action %q", in.Action)))
	}
}

func (s *Server) subscribeLocked(c *Conn, in protocol.Inbound) {
	r := s.requests[in.RequestID]
	if r == nil {
		c.sendLocked(protocol.ErrorFrame(&in, protocol.Errorf(protocol.CodeNotFound, "no request %s", in.RequestID)))
		return
	}
	var replay []protocol.Outbound
	if in.FromVersion < r.head() {
		replay = r.events[in.FromVersion:]
	}
	if s.cfg.ReverseReplay {
		for i := len(replay) - 1; i >= 0; i-- {
			c.sendLocked(replay[i])
		}
	}
	for _, e := range replay {
		c.sendLocked(e)
	}
	if !r.ended() { // nothing can follow an end: no subscription
		r.subs[c] = true
	}
	c.sendLocked(protocol.Outbound{Type: protocol.TypeAck, Action: in.Action, RequestID: r.id,
		Version: r.head(), ClientRequestID: in.ClientRequestID})
}

func (s *Server) cancelLocked(c *Conn, in protocol.Inbound) {
	r := s.requests[in.RequestID]
	switch {
	case r == nil:
		c.sendLocked(protocol.ErrorFrame(&in, protocol.Errorf(protocol.CodeNotFound, "no request %s", in.RequestID)))
	case r.ended():
		c.sendLocked(protocol.ErrorFrame(&in, protocol.Errorf(protocol.CodeInvalidTransition, "request %s has ended", r.id)))
	default:
		v := s.emitLocked(r, "request.cancel_requested", map[string]string{"reason": in.Reason}, false)
		c.sendLocked(protocol.Outbound{Type: protocol.TypeAck, Action: in.Action, RequestID: r.id,
			Version: v, ClientRequestID: in.ClientRequestID})
		s.pushLocked(r, v)
		s.emitLocked(r, "request.cancelled", map[string]string{"reason": in.Reason}, true)
	}
}

// syncLocked answers echo (completed with the payload as result) and fail
// (failed with handler_error) with a response at version 3.
func (s *Server) syncLocked(c *Conn, in protocol.Inbound) {
	r, dup := s.submitLocked(in)
	if dup {
		s.reattachLocked(c, in, r)
		return
	}
	s.emitLocked(r, "request.started", map[string]int{"attempt": 1}, false)
	f := protocol.Outbound{Type: protocol.TypeResponse, Action: in.Action, RequestID: r.id,
		ClientRequestID: in.ClientRequestID}
	if in.Action == "echo" {
		s.emitLocked(r, "request.completed", map[string]json.RawMessage{"result": in.Payload}, false)
		f.Status, f.Result = "completed", in.Payload
	} else {
		e := protocol.Error{Code: protocol.CodeHandlerError, Message: "boom"}
		s.emitLocked(r, "request.failed", e, false)
		f.Status, f.Error = "failed", &e
	}
	f.Version = r.head()
	c.sendLocked(f)
}

// reattachLocked answers a repeated idempotency key: queued (duplicate,
// version 1), the connection follows the request unless it has ended, and
// every event after version 1 is replayed.
func (s *Server) reattachLocked(c *Conn, in protocol.Inbound, r *request) {
	if !r.ended() {
		r.subs[c] = true
	}
	c.sendLocked(protocol.Outbound{Type: protocol.TypeQueued, Action: in.Action, RequestID: r.id, Version: 1,
		ClientRequestID: in.ClientRequestID, Duplicate: true})
	for _, e := range r.events[1:] {
		c.sendLocked(e)
	}
}

// jobLocked queues an async request. Payload {"steps": n, "hold": bool,
// "end": "completed"|"failed"|"timed_out"}: unless hold, n progress events
// and the end follow at once, in one burst.
func (s *Server) jobLocked(c *Conn, in protocol.Inbound) {
	var p struct {
		Steps int    `json:"steps"`
		Hold  bool   `json:"hold"`
		End   string `json:"end"`
	}
	if len(in.Payload) > 0 {
		if err := json.Unmarshal(in.Payload, &p); err != nil {
			c.sendLocked(protocol.ErrorFrame(&in, protocol.Errorf(protocol.CodeValidationFailed, "payload: %v", err)))
			return
		}
	}
	r, dup := s.submitLocked(in)
	if dup {
		s.reattachLocked(c, in, r)
		return
	}
	r.subs[c] = true
	c.sendLocked(protocol.Outbound{Type: protocol.TypeQueued, Action: in.Action, RequestID: r.id, Version: 1,
		ClientRequestID: in.ClientRequestID})
	if p.Hold {
		return
	}
	s.emitLocked(r, "request.started", map[string]int{"attempt": 1}, true)
	for i := 1; i <= p.Steps; i++ {
		s.emitLocked(r, "request.progress", map[string]any{"percentage": float64(i*100) / float64(p.Steps),
			"message": fmt.Sprintf("step %d", i)}, true)
	}
	switch p.End {
	case "failed":
		s.emitLocked(r, "request.failed", map[string]any{"code": protocol.CodeHandlerError, "message": "boom", "attempt": 1}, true)
	case "timed_out":
		s.emitLocked(r, "request.timed_out", map[string]any{"deadline": s.base}, true)
	default:
		s.emitLocked(r, "request.completed", map[string]any{"result": map[string]int{"steps": p.Steps}}, true)
	}
}
