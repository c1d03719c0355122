package ratelimit

import (
	"strconv"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := New(2, 2, func() time.Time { return now })
	steps := []struct {
		advance time.Duration
		key     string
		want    bool
		wait    time.Duration
	}{
		{0, "a", true, 0},
		{0, "a", true, 0},
		{0, "a", false, 500 * time.Millisecond},
		{0, "b", true, 0}, // keys are independent
		{250 * time.Millisecond, "a", false, 250 * time.Millisecond},
		{250 * time.Millisecond, "a", true, 0},
		{10 * time.Second, "a", true, 0}, // refills to the burst, no more
		{0, "a", true, 0},
		{0, "a", false, 500 * time.Millisecond},
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		ok, wait := l.Allow(s.key)
		if ok != s.want || wait != s.wait {
			t.Fatalf("step %d: Allow(%q) = %v, %s; want %v, %s", i, s.key, ok, wait, s.want, s.wait)
		}
	}
}

func TestLimiterBoundsMemory(t *testing.T) {
	now := time.Now()
	l := New(1, 1, func() time.Time { return now })
	for i := range maxKeys * 3 {
		l.Allow(strconv.Itoa(i))
	}
	if n := len(l.buckets); n > maxKeys {
		t.Fatalf("buckets = %d, want <= %d", n, maxKeys)
	}
}
