// Package auth guards the admin API with a static bearer token from ADMIN_TOKEN.
package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"

	"github.com/infra-lab/admin-server/internal/logging"
	"github.com/infra-lab/admin-server/internal/respond"
)

// Challenge is the WWW-Authenticate value sent with every 401.
const Challenge = `Bearer realm="infra-lab"`

// Reason says why a request was rejected; it is a metric label, so the set is closed.
type Reason string

const (
	ReasonMissing      Reason = "missing"       // no Authorization header, or "Bearer" with no token
	ReasonWrongScheme  Reason = "wrong_scheme"  // e.g. Basic credentials
	ReasonInvalidToken Reason = "invalid_token" // Bearer with a token that does not match
)

// Reasons lists every Reason so metrics can create all series at zero up front.
var Reasons = []Reason{ReasonMissing, ReasonWrongScheme, ReasonInvalidToken}

var messages = map[Reason]string{
	ReasonMissing:      "missing bearer token",
	ReasonWrongScheme:  "authorization scheme must be Bearer",
	ReasonInvalidToken: "invalid bearer token",
}

// FailureRecorder is told about each rejected request (the metrics package implements it).
type FailureRecorder interface {
	AuthFailed(Reason)
}

// Bearer checks `Authorization: Bearer <token>` against one expected token.
type Bearer struct {
	// Only the digest is kept: comparing fixed-size digests in constant time
	// hides the token's length as well as its content.
	want     [sha256.Size]byte
	recorder FailureRecorder
}

// NewBearer returns a checker for token; recorder may be nil.
func NewBearer(token string, recorder FailureRecorder) *Bearer {
	return &Bearer{want: sha256.Sum256([]byte(token)), recorder: recorder}
}

// Check returns ok, or the reason the request must be rejected.
func (b *Bearer) Check(r *http.Request) (reason Reason, ok bool) {
	header := r.Header.Get("Authorization")
	if header == "" {
		return ReasonMissing, false
	}
	scheme, token, _ := strings.Cut(header, " ")
	// The scheme name is case-insensitive (RFC 7235 section 2.1).
	if !strings.EqualFold(scheme, "Bearer") {
		return ReasonWrongScheme, false
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return ReasonMissing, false
	}
	got := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(got[:], b.want[:]) != 1 {
		return ReasonInvalidToken, false
	}
	return "", true
}

// Middleware lets authorised requests through and answers every other one with a
// JSON 401, a warn log line (never the token) and a metric increment.
func (b *Bearer) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reason, ok := b.Check(r)
		if ok {
			next.ServeHTTP(w, r)
			return
		}
		if b.recorder != nil {
			b.recorder.AuthFailed(reason)
		}
		logging.FromContext(r.Context()).LogAttrs(r.Context(), slog.LevelWarn, "authentication rejected",
			slog.String("reason", string(reason)),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.String("remote_addr", r.RemoteAddr),
		)
		w.Header().Set("WWW-Authenticate", Challenge)
		respond.Error(w, http.StatusUnauthorized, "unauthorized", messages[reason])
	})
}

// Valid reports whether token is the admin token (constant time, as Check).
func (b *Bearer) Valid(token string) bool {
	got := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(got[:], b.want[:]) == 1
}

// SessionValue is the control page's cookie value: an HMAC derived from the token, so
// the cookie never holds the token itself and changes when the token changes.
func (b *Bearer) SessionValue() string {
	mac := hmac.New(sha256.New, b.want[:])
	mac.Write([]byte("infralab-admin-ui-session-v1"))
	return hex.EncodeToString(mac.Sum(nil))
}

// ValidSession checks a cookie value in constant time.
func (b *Bearer) ValidSession(v string) bool {
	want := b.SessionValue()
	return len(v) == len(want) && subtle.ConstantTimeCompare([]byte(v), []byte(want)) == 1
}
