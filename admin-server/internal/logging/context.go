package logging

import (
	"context"
	"log/slog"
)

type loggerKey struct{}

// WithLogger stores a request-scoped logger (already carrying request_id) in ctx.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// FromContext returns the request's logger, or the default logger outside a request,
// so callers never need a nil check.
func FromContext(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
