// Package respond writes JSON responses, including the error body every 4xx/5xx carries.
package respond

import (
	"encoding/json"
	"net/http"
)

// ErrorBody is the shape of every error response: a stable machine code and a
// human message. It never carries internal details such as stack traces.
type ErrorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// JSON writes v as a JSON body with the given status.
func JSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body, _ = json.Marshal(ErrorBody{Error: "internal", Message: "failed to encode response"})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	// Admin answers are live state (and some are behind a token): never cache them.
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// Error writes an ErrorBody with the given status.
func Error(w http.ResponseWriter, status int, code, message string) {
	JSON(w, status, ErrorBody{Error: code, Message: message})
}
