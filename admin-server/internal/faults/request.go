package faults

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// MaxRequestBytes bounds an inject request body.
const MaxRequestBytes = 16 << 10

// Request is the body of POST /admin/api/faults.
type Request struct {
	Type   string         `json:"type"`
	Target string         `json:"target"`
	Params map[string]any `json:"params"`
	// TTL is in seconds; 0 means the default. Parsed from `ttl` (integer seconds or a
	// Go duration string such as "90s") or `ttl_seconds`.
	TTL time.Duration `json:"-"`
}

type wireRequest struct {
	Type       string          `json:"type"`
	Target     string          `json:"target"`
	Params     map[string]any  `json:"params"`
	TTL        json.RawMessage `json:"ttl"`
	TTLSeconds json.RawMessage `json:"ttl_seconds"`
}

// ParseRequest decodes an inject request strictly: one JSON object, known fields only.
// It checks syntax and shapes; ranges are checked by Manager.Validate.
func ParseRequest(body []byte) (Request, error) {
	if len(body) > MaxRequestBytes {
		return Request{}, invalid("body", "larger than %d bytes", MaxRequestBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var w wireRequest
	if err := dec.Decode(&w); err != nil {
		return Request{}, invalid("body", "%s", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Request{}, invalid("body", "must hold exactly one JSON object")
	}
	req := Request{Type: strings.TrimSpace(w.Type), Target: strings.TrimSpace(w.Target), Params: w.Params}
	if req.Type == "" {
		return Request{}, invalid("type", "is required")
	}
	if req.Target == "" {
		return Request{}, invalid("target", "is required")
	}
	if len(w.TTL) > 0 && len(w.TTLSeconds) > 0 {
		return Request{}, invalid("ttl", "give either ttl or ttl_seconds, not both")
	}
	raw, field := w.TTL, "ttl"
	if len(w.TTLSeconds) > 0 {
		raw, field = w.TTLSeconds, "ttl_seconds"
	}
	ttl, err := parseTTL(raw, field == "ttl")
	if err != nil {
		return Request{}, invalid(field, "%s", err.Error())
	}
	req.TTL = ttl
	return req, nil
}

// parseTTL accepts null/absent (0 = default), an integer of seconds, and when
// allowString, a duration string such as "90s" or "5m".
func parseTTL(raw json.RawMessage, allowString bool) (time.Duration, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	if raw[0] == '"' {
		if !allowString {
			return 0, errors.New("must be an integer number of seconds")
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, errors.New("must be an integer of seconds or a duration such as \"90s\"")
		}
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 || d%time.Second != 0 {
			return 0, fmt.Errorf("must be a positive whole number of seconds such as \"90s\" or \"5m\", got %q", s)
		}
		return d, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, errors.New("must be an integer of seconds or a duration such as \"90s\"")
	}
	secs, err := n.Int64()
	if err != nil || secs <= 0 || secs > 1<<31 {
		return 0, fmt.Errorf("must be a positive integer of seconds, got %s", n.String())
	}
	return time.Duration(secs) * time.Second, nil
}

func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return "is empty; expected a JSON object"
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %s must be %s", typ.Field, typ.Type.String())
		}
		return "must be a JSON object"
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ") + " (accepted: type, target, params, ttl, ttl_seconds)"
	}
	return "malformed JSON: " + err.Error()
}
