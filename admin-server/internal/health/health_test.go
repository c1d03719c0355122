package health

import (
	"context"
	"errors"
	"testing"
)

func TestChecker(t *testing.T) {
	ok := func(context.Context) error { return nil }
	bad := func(context.Context) error { return errors.New("boom") }
	tests := []struct {
		name       string
		checks     map[string]CheckFunc
		wantStatus string
		wantDown   []string
	}{
		{name: "no checks is down", checks: nil, wantStatus: StatusDown},
		{name: "all up", checks: map[string]CheckFunc{"a": ok, "b": ok}, wantStatus: StatusUp},
		{name: "one down", checks: map[string]CheckFunc{"a": ok, "b": bad}, wantStatus: StatusDown, wantDown: []string{"b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Checker
			for name, fn := range tt.checks {
				c.Add(name, fn)
			}
			rep := c.Run(context.Background())
			if rep.Status != tt.wantStatus || rep.Up() != (tt.wantStatus == StatusUp) {
				t.Fatalf("status = %s, want %s", rep.Status, tt.wantStatus)
			}
			if len(rep.Checks) != len(tt.checks) {
				t.Fatalf("checks = %v", rep.Checks)
			}
			for _, name := range tt.wantDown {
				if r := rep.Checks[name]; r.Status != StatusDown || r.Error != "boom" {
					t.Errorf("check %s = %+v, want DOWN with error", name, r)
				}
			}
		})
	}
}

func TestFlag(t *testing.T) {
	f := NewFlag("not serving")
	var c Checker
	c.Add("app", f.Check)
	if c.Run(context.Background()).Up() {
		t.Fatal("a new flag must start down")
	}
	f.Set(true)
	if !c.Run(context.Background()).Up() {
		t.Fatal("flag set but report is down")
	}
	f.Set(false)
	rep := c.Run(context.Background())
	if rep.Up() || rep.Checks["app"].Error != "not serving" {
		t.Fatalf("flag cleared: %+v", rep)
	}
}
