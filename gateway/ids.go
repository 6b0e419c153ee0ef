package gateway

import "crypto/rand"

const (
	alnum      = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
)

// newConnectionID returns an ID shaped like API Gateway's connection and
// request IDs ("L0SM9cOFvHcCIhw="): 15 letters or digits and a trailing
// "=". Unlike base64 it never holds '/' or '+', so it is safe in a path.
func newConnectionID() string { return randomString(alnum, 15) + "=" }

// newRequestID returns a request or message ID of the same shape.
func newRequestID() string { return newConnectionID() }

// newAPIID returns an API ID shaped like API Gateway's ("dl7ptocha9").
func newAPIID() string { return randomString(lowerAlnum, apiIDLength) }

// randomString draws n characters uniformly from alphabet (len ≤ 256)
// with crypto/rand, rejecting bytes that would bias the draw.
func randomString(alphabet string, n int) string {
	limit := 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/2)
	for len(out) < n {
		rand.Read(buf) // never fails (crypto/rand panics on failure)
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out)
}
