package sqlite

// SetCopyChunk sets the views per transaction of CopyViews until the
// returned function restores it, so tests cross chunk boundaries with few
// views.
func SetCopyChunk(n int) (restore func()) {
	old := copyChunk
	copyChunk = n
	return func() { copyChunk = old }
}
