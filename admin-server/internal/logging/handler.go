// Package logging builds the JSON log handler required by the shared log contract
// and carries a per-request logger through the context.
package logging

import (
	"io"
	"log/slog"
	"strings"
	"time"
)

// TimeFormat is RFC 3339 with exactly three fractional digits; always applied to UTC
// so the zone prints as "Z" (e.g. 2026-11-26T05:40:01.123Z).
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// NewHandler returns a slog JSON handler whose lines carry `ts`, lowercase `level`,
// `msg`, `service` and `version` (the running build, APP_VERSION), as the shared
// contract fixes. Both are attributes of the handler, so no line can lack them.
func NewHandler(w io.Writer, level slog.Leveler, service, version string) slog.Handler {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: replaceAttr})
	return h.WithAttrs([]slog.Attr{slog.String("service", service), slog.String("version", version)})
}

// replaceAttr renames and reformats only the built-in top-level keys; attributes inside
// groups belong to the caller and are left alone.
func replaceAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.TimeKey:
		if t, ok := a.Value.Any().(time.Time); ok {
			return slog.String("ts", t.UTC().Format(TimeFormat))
		}
	case slog.LevelKey:
		if l, ok := a.Value.Any().(slog.Level); ok {
			return slog.String(slog.LevelKey, strings.ToLower(l.String()))
		}
	}
	return a
}
