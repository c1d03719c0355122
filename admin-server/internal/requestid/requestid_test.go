package requestid

import (
	"context"
	"regexp"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	a, b := New(), New()
	if !hex32.MatchString(a) || !hex32.MatchString(b) {
		t.Fatalf("New() = %q, %q; want 32 hex characters", a, b)
	}
	if a == b {
		t.Fatalf("New() returned the same id twice: %q", a)
	}
	if !Valid(a) {
		t.Fatalf("a generated id must be valid: %q", a)
	}
}

func TestValid(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"5f0c3e9a1b2d4c6e8f0a1b2c3d4e5f60", true},
		{"123e4567-e89b-12d3-a456-426614174000", true},
		{"trace:span_1.2", true},
		{"", false},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{"has space", false},
		{`quote"`, false},
		{"new\nline", false},
		{"ümlaut", false},
	}
	for _, tt := range tests {
		if got := Valid(tt.id); got != tt.want {
			t.Errorf("Valid(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestContext(t *testing.T) {
	if got := FromContext(context.Background()); got != "" {
		t.Fatalf("FromContext(empty) = %q", got)
	}
	if got := FromContext(WithID(context.Background(), "abc")); got != "abc" {
		t.Fatalf("FromContext = %q, want abc", got)
	}
}
