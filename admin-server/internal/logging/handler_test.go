package logging

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"testing"
	"time"

	"github.com/infra-lab/admin-server/internal/testlog"
)

var tsPattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

func TestHandlerFields(t *testing.T) {
	tests := []struct {
		name      string
		log       func(l *slog.Logger)
		wantLevel string
	}{
		{"debug", func(l *slog.Logger) { l.Debug("hello", "k", 1) }, "debug"},
		{"info", func(l *slog.Logger) { l.Info("hello", "k", 1) }, "info"},
		{"warn", func(l *slog.Logger) { l.Warn("hello", "k", 1) }, "warn"},
		{"error", func(l *slog.Logger) { l.Error("hello", "k", 1) }, "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(slog.New(NewHandler(&buf, slog.LevelDebug, "admin-server")))
			lines := testlog.Lines(t, buf.String())
			if len(lines) != 1 {
				t.Fatalf("got %d lines, want 1: %s", len(lines), buf.String())
			}
			m := lines[0]
			want := map[string]any{"level": tt.wantLevel, "msg": "hello", "service": "admin-server", "k": float64(1)}
			for k, v := range want {
				if m[k] != v {
					t.Errorf("%s = %#v, want %#v", k, m[k], v)
				}
			}
			ts, _ := m["ts"].(string)
			if !tsPattern.MatchString(ts) {
				t.Errorf("ts = %q, want RFC 3339 UTC with milliseconds", ts)
			}
			if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
				t.Errorf("ts %q does not parse as RFC 3339: %v", ts, err)
			}
			if _, ok := m["time"]; ok {
				t.Errorf("slog's default time key is still present: %v", m)
			}
			if len(m) != len(want)+1 {
				t.Errorf("unexpected extra fields: %v", m)
			}
		})
	}
}

func TestHandlerConvertsToUTC(t *testing.T) {
	var buf bytes.Buffer
	h := NewHandler(&buf, slog.LevelInfo, "svc")
	seoul := time.FixedZone("KST", 9*3600)
	r := slog.NewRecord(time.Date(2026, 11, 26, 14, 40, 1, 123456789, seoul), slog.LevelInfo, "m", 0)
	if err := h.Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if got := testlog.Lines(t, buf.String())[0]["ts"]; got != "2026-11-26T05:40:01.123Z" {
		t.Fatalf("ts = %v, want 2026-11-26T05:40:01.123Z", got)
	}
}

func TestHandlerLevelFilter(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewHandler(&buf, slog.LevelWarn, "svc"))
	l.Info("dropped")
	l.Warn("kept")
	lines := testlog.Lines(t, buf.String())
	if len(lines) != 1 || lines[0]["msg"] != "kept" {
		t.Fatalf("level filter wrong, got %v", lines)
	}
}

func TestGroupedKeysUntouched(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewHandler(&buf, slog.LevelInfo, "svc"))
	l.Info("m", slog.Group("g", slog.String("level", "custom")))
	g, _ := testlog.Lines(t, buf.String())[0]["g"].(map[string]any)
	if g["level"] != "custom" {
		t.Fatalf("grouped attr rewritten: %v", g)
	}
}

func TestFromContext(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewHandler(&buf, slog.LevelInfo, "svc")).With("request_id", "abc")
	FromContext(WithLogger(context.Background(), l)).Info("m")
	if got := testlog.Lines(t, buf.String())[0]["request_id"]; got != "abc" {
		t.Fatalf("request_id = %v, want abc", got)
	}
	if FromContext(context.Background()) != slog.Default() {
		t.Fatal("FromContext without a logger should fall back to slog.Default()")
	}
}
