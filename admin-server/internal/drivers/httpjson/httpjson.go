// Package httpjson is the HTTP plumbing the fault drivers share: requests with an
// optional JSON body, and answers checked against the statuses a call expects.
package httpjson

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/infra-lab/admin-server/internal/requestid"
)

// Bounds on how much of an answer is read: an unexpected answer's body becomes an
// error message; an expected one is decoded into the caller's value or discarded.
const (
	maxMessage = 4 << 10
	maxDecode  = 8 << 20
	maxDiscard = 1 << 20
)

// NewRequest returns a request for url that carries ctx's request id (one id across
// the hops of an injection); a non-nil body is sent as JSON.
func NewRequest(ctx context.Context, method, url string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if id := requestid.FromContext(ctx); id != "" {
		req.Header.Set(requestid.Header, id)
	}
	return req, nil
}

// Do sends req with client and checks that the answer's status is one of ok; out,
// when non-nil, then receives the JSON body. Any other status is an error
// "<who> answered <status>: <message>", where message is the "message" field of a
// JSON error body, or else the body's text.
func Do(client *http.Client, req *http.Request, who string, out any, ok ...int) error {
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if !slices.Contains(ok, resp.StatusCode) {
		return fmt.Errorf("%s answered %d: %s", who, resp.StatusCode, message(resp.Body))
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDiscard))
		return nil
	}
	return json.NewDecoder(io.LimitReader(resp.Body, maxDecode)).Decode(out)
}

// message is the "message" field of a JSON error body, or else the body's text.
func message(body io.Reader) string {
	raw, _ := io.ReadAll(io.LimitReader(body, maxMessage))
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &e) == nil && e.Message != "" {
		return e.Message
	}
	return strings.TrimSpace(string(raw))
}
