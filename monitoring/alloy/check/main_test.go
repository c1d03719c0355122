package main

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestRun: a syntax error reaches the caller (and the exit status) with Alloy's file:line:col.
func TestRun(t *testing.T) {
	broken := filepath.Join(t.TempDir(), "broken.alloy")
	if err := os.WriteFile(broken, []byte("loki.write \"lab\" {\n  endpoint {\n    url = \"http://loki\n  }\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		wantErr    string // regexp; "" for success
	}{
		{"the lab's config", configPath, ""},
		{"syntax error", broken, `broken\.alloy:3:11: `},
		{"missing file", filepath.Join(t.TempDir(), "absent.alloy"), `no such file`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(tt.path, io.Discard)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("run: %v", err)
			case tt.wantErr != "" && (err == nil || !regexp.MustCompile(tt.wantErr).MatchString(err.Error())):
				t.Fatalf("run: %v, want an error matching %q", err, tt.wantErr)
			}
		})
	}
}
