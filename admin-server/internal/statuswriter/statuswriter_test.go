package statuswriter

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWriter(t *testing.T) {
	tests := []struct {
		name       string
		handle     func(w http.ResponseWriter)
		wantStatus int
		wantWrote  bool
	}{
		{"nothing written", func(http.ResponseWriter) {}, 200, false},
		{"body only", func(w http.ResponseWriter) { _, _ = w.Write([]byte("hi")) }, 200, true},
		{"explicit status", func(w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) }, 502, true},
		{"first status wins", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusNotFound)
			w.WriteHeader(http.StatusInternalServerError)
		}, 404, true},
		{"status after body", func(w http.ResponseWriter) {
			_, _ = w.Write([]byte("hi"))
			w.WriteHeader(http.StatusInternalServerError)
		}, 200, true},
		{"1xx is not final", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusCreated)
		}, 201, true},
		{"informational only", func(w http.ResponseWriter) { w.WriteHeader(http.StatusContinue) }, 200, false},
		{"101 is final", func(w http.ResponseWriter) { w.WriteHeader(http.StatusSwitchingProtocols) }, 101, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			sw := New(rec)
			tt.handle(sw)
			if got := sw.Status(); got != tt.wantStatus {
				t.Errorf("Status() = %d, want %d", got, tt.wantStatus)
			}
			if got := sw.Wrote(); got != tt.wantWrote {
				t.Errorf("Wrote() = %v, want %v", got, tt.wantWrote)
			}
			if sw.Unwrap() != rec {
				t.Error("Unwrap() does not return the wrapped writer")
			}
		})
	}
}
