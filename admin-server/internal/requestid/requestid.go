// Package requestid reads, makes and carries the X-Request-ID that nginx sets,
// so every log line and every outgoing call can name the request it belongs to.
package requestid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
)

// Header is the request and response header that carries the id.
const Header = "X-Request-ID"

// maxLen bounds an incoming id: it is copied into every log line of the request.
const maxLen = 128

// New returns 32 lowercase hex characters, the same shape as nginx's $request_id.
func New() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error since Go 1.24
	return hex.EncodeToString(b[:])
}

// Valid reports whether an incoming id is safe to reuse: non-empty, bounded, and made
// of characters that ids from nginx, UUIDs and tracing systems use. Anything else is
// replaced rather than trusted.
func Valid(id string) bool {
	if id == "" || len(id) > maxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

type idKey struct{}

// WithID stores the request id in ctx for outgoing calls to propagate.
func WithID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, idKey{}, id)
}

// FromContext returns the request id, or "" outside a request.
func FromContext(ctx context.Context) string {
	id, _ := ctx.Value(idKey{}).(string)
	return id
}
