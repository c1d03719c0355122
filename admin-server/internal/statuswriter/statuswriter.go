// Package statuswriter wraps an http.ResponseWriter to remember the status code a
// handler sent, for middleware that acts on it afterwards (access log, panic
// recovery, error reporting).
package statuswriter

import "net/http"

// Writer remembers the final status code written through it.
type Writer struct {
	http.ResponseWriter
	status int
	wrote  bool
}

// New wraps w.
func New(w http.ResponseWriter) *Writer { return &Writer{ResponseWriter: w} }

func (s *Writer) WriteHeader(code int) {
	// 1xx informational headers (except 101) are not the final status.
	if !s.wrote && (code >= 200 || code == http.StatusSwitchingProtocols) {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *Writer) Write(b []byte) (int, error) {
	if !s.wrote {
		s.status, s.wrote = http.StatusOK, true
	}
	return s.ResponseWriter.Write(b)
}

// Status is the code sent, or 200 when the handler wrote nothing (net/http's default).
func (s *Writer) Status() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}

// Wrote reports whether the final status line has gone out (a body write sends it too).
func (s *Writer) Wrote() bool { return s.wrote }

// Unwrap lets http.ResponseController reach the underlying writer (flush, deadlines).
func (s *Writer) Unwrap() http.ResponseWriter { return s.ResponseWriter }
