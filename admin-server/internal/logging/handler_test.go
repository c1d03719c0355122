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
			tt.log(slog.New(NewHandler(&buf, slog.LevelDebug, "admin-server", "6492e4b1c0de")))
			lines := testlog.Lines(t, buf.String())
			if len(lines) != 1 {
				t.Fatalf("got %d lines, want 1: %s", len(lines), buf.String())
			}
			m := lines[0]
			want := map[string]any{"level": tt.wantLevel, "msg": "hello", "service": "admin-server", "version": "6492e4b1c0de",
				"k": float64(1)}
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

// TestHandlerVersion: every line carries the build's version at the top level, also
// from derived loggers and inside groups, and free text cannot break the line.
func TestHandlerVersion(t *testing.T) {
	tests := []struct{ name, version string }{
		{"developer build", "dev"},
		{"image", "6492e4b1c0de"},
		{"dirty image", "6492e4b1c0de-dirty"},
		{"free text", `v"1\2` + "\n{\"level\":\"x\"}\t</script>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := slog.New(NewHandler(&buf, slog.LevelDebug, "admin-server", tt.version))
			l.Info("plain")
			l.With("request_id", "abc").Warn("derived")
			l.WithGroup("g").Error("grouped", "k", 1)
			lines := testlog.Lines(t, buf.String())
			if len(lines) != 3 {
				t.Fatalf("got %d lines, want 3: %q", len(lines), buf.String())
			}
			for _, m := range lines {
				if m["version"] != tt.version || m["service"] != "admin-server" {
					t.Errorf("line %v: version = %#v, want %#v", m["msg"], m["version"], tt.version)
				}
			}
		})
	}
}

func TestHandlerConvertsToUTC(t *testing.T) {
	var buf bytes.Buffer
	h := NewHandler(&buf, slog.LevelInfo, "svc", "test")
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
	l := slog.New(NewHandler(&buf, slog.LevelWarn, "svc", "test"))
	l.Info("dropped")
	l.Warn("kept")
	lines := testlog.Lines(t, buf.String())
	if len(lines) != 1 || lines[0]["msg"] != "kept" {
		t.Fatalf("level filter wrong, got %v", lines)
	}
}

func TestGroupedKeysUntouched(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewHandler(&buf, slog.LevelInfo, "svc", "test"))
	l.Info("m", slog.Group("g", slog.String("level", "custom")))
	g, _ := testlog.Lines(t, buf.String())[0]["g"].(map[string]any)
	if g["level"] != "custom" {
		t.Fatalf("grouped attr rewritten: %v", g)
	}
}

func TestFromContext(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewHandler(&buf, slog.LevelInfo, "svc", "test")).With("request_id", "abc")
	FromContext(WithLogger(context.Background(), l)).Info("m")
	if got := testlog.Lines(t, buf.String())[0]["request_id"]; got != "abc" {
		t.Fatalf("request_id = %v, want abc", got)
	}
	if FromContext(context.Background()) != slog.Default() {
		t.Fatal("FromContext without a logger should fall back to slog.Default()")
	}
}
