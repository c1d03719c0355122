// Package sentrytest is a Sentry envelope receiver for tests: a real HTTP server on a
// loopback port that accepts POST /api/<project>/envelope/ (gzip or deflate bodies
// too) and keeps every event item it decodes.
package sentrytest

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Exception is one entry of an event's exception list.
type Exception struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Event is the part of a Sentry event the tests look at.
type Event struct {
	EventID     string            `json:"event_id"`
	Level       string            `json:"level"`
	Message     string            `json:"message"`
	Environment string            `json:"environment"`
	Release     string            `json:"release"`
	Tags        map[string]string `json:"tags"`
	Fingerprint []string          `json:"fingerprint"`
	// Exception is normalised from either wire form: a list, or {"values": [...]}.
	Exception    []Exception     `json:"-"`
	RawException json.RawMessage `json:"exception"`
	Request      struct {
		URL     string            `json:"url"`
		Method  string            `json:"method"`
		Headers map[string]string `json:"headers"`
	} `json:"request"`
	Raw json.RawMessage `json:"-"`
}

// Main is the primary exception (the SDK lists the outermost error last).
func (e Event) Main() Exception {
	if n := len(e.Exception); n > 0 {
		return e.Exception[n-1]
	}
	return Exception{}
}

// Receiver collects events.
type Receiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	events   []Event
	requests int
	errs     []string
}

var envelopePath = regexp.MustCompile(`^/api/([0-9]+)/envelope/$`)

// Start starts a receiver on 127.0.0.1:0 and stops it when the test ends.
func Start(t testing.TB) *Receiver {
	t.Helper()
	r := &Receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// DSN is a DSN for project 1 on this receiver.
func (r *Receiver) DSN() string {
	return "http://key@" + r.srv.Listener.Addr().String() + "/1"
}

func (r *Receiver) fail(w http.ResponseWriter, code int, format string, args ...any) {
	r.mu.Lock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
	r.mu.Unlock()
	http.Error(w, fmt.Sprintf(format, args...), code)
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.requests++
	r.mu.Unlock()
	if req.Method != http.MethodPost || !envelopePath.MatchString(req.URL.Path) {
		r.fail(w, http.StatusNotFound, "unexpected %s %s", req.Method, req.URL.Path)
		return
	}
	var body io.Reader = req.Body
	switch enc := req.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			r.fail(w, http.StatusBadRequest, "gzip: %v", err)
			return
		}
		body = zr
	case "deflate":
		body = flate.NewReader(req.Body)
	default:
		r.fail(w, http.StatusUnsupportedMediaType, "unsupported Content-Encoding %q", enc)
		return
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		r.fail(w, http.StatusBadRequest, "read: %v", err)
		return
	}
	events, err := parseEnvelope(raw)
	if err != nil {
		r.fail(w, http.StatusBadRequest, "envelope: %v", err)
		return
	}
	r.mu.Lock()
	r.events = append(r.events, events...)
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{}`)
}

// parseEnvelope reads the envelope header line, then items: a header line with type
// (and optionally length), then the payload.
func parseEnvelope(raw []byte) ([]Event, error) {
	br := bufio.NewReader(bytes.NewReader(raw))
	if _, err := br.ReadBytes('\n'); err != nil {
		return nil, fmt.Errorf("no envelope header: %w", err)
	}
	var out []Event
	for {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) == 0 {
			if err != nil {
				return out, nil
			}
			continue
		}
		var hdr struct {
			Type   string `json:"type"`
			Length *int   `json:"length"`
		}
		if jerr := json.Unmarshal(line, &hdr); jerr != nil {
			return nil, fmt.Errorf("item header %q: %w", line, jerr)
		}
		var payload []byte
		if hdr.Length != nil {
			payload = make([]byte, *hdr.Length)
			if _, err := io.ReadFull(br, payload); err != nil {
				return nil, fmt.Errorf("item payload: %w", err)
			}
			_, _ = br.ReadBytes('\n')
		} else {
			payload, _ = br.ReadBytes('\n')
		}
		if hdr.Type == "event" {
			var ev Event
			if err := json.Unmarshal(payload, &ev); err != nil {
				return nil, fmt.Errorf("event: %w", err)
			}
			ev.Raw = append(json.RawMessage(nil), payload...)
			if len(ev.RawException) > 0 && ev.RawException[0] == '[' {
				if err := json.Unmarshal(ev.RawException, &ev.Exception); err != nil {
					return nil, fmt.Errorf("event exception: %w", err)
				}
			} else if len(ev.RawException) > 0 && ev.RawException[0] == '{' {
				var wrapped struct {
					Values []Exception `json:"values"`
				}
				if err := json.Unmarshal(ev.RawException, &wrapped); err != nil {
					return nil, fmt.Errorf("event exception: %w", err)
				}
				ev.Exception = wrapped.Values
			}
			out = append(out, ev)
		}
	}
}

// Events returns the events received so far.
func (r *Receiver) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// Requests is how many HTTP requests reached the receiver, well-formed or not.
func (r *Receiver) Requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests
}

// Errors lists requests the receiver rejected.
func (r *Receiver) Errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errs...)
}

// WaitFor waits up to timeout for an event that match accepts, failing the test
// with what did arrive otherwise.
func (r *Receiver) WaitFor(t testing.TB, timeout time.Duration, what string, match func(Event) bool) Event {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, ev := range r.Events() {
			if match(ev) {
				return ev
			}
		}
		if time.Now().After(deadline) {
			var got []string
			for _, ev := range r.Events() {
				got = append(got, strconv.Quote(string(ev.Raw)))
			}
			t.Fatalf("no Sentry event %s within %s; rejected requests: %v; events: %v", what, timeout, r.Errors(), got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
