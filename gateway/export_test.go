package gateway

// Writing reports whether a write to connection id holds its socket (used
// to know that a post to a stuck client is blocked in the kernel).
func (g *Gateway) Writing(id string) bool {
	c := g.lookup(id)
	return c != nil && len(c.wsem) == 1
}

// Pending is the number of writes waiting for or holding connection id's
// socket.
func (g *Gateway) Pending(id string) int64 {
	if c := g.lookup(id); c != nil {
		return c.pending.Load()
	}
	return 0
}
