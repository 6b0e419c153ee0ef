//go:build !race

package client

// raceEnabled: the race detector slows the scale tests about tenfold.
const raceEnabled = false
