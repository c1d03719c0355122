package faults_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/infra-lab/admin-server/internal/faults"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr string
		wantTTL time.Duration
	}{
		{"minimal", `{"type":"chaos.cpu","target":"core-server"}`, "", 0},
		{"ttl integer", `{"type":"a","target":"b","ttl":90}`, "", 90 * time.Second},
		{"ttl string", `{"type":"a","target":"b","ttl":"5m"}`, "", 5 * time.Minute},
		{"ttl_seconds", `{"type":"a","target":"b","ttl_seconds":30}`, "", 30 * time.Second},
		{"ttl null", `{"type":"a","target":"b","ttl":null}`, "", 0},
		{"params kept", `{"type":"a","target":"b","params":{"x":1}}`, "", 0},
		{"empty body", ``, "body: is empty", 0},
		{"not an object", `[1]`, "body: must be a JSON object", 0},
		{"malformed", `{"type":`, "body: malformed JSON", 0},
		{"unknown field", `{"type":"a","target":"b","duration":5}`, `body: unknown field "duration"`, 0},
		{"two objects", `{"type":"a","target":"b"}{}`, "body: must hold exactly one JSON object", 0},
		{"missing type", `{"target":"b"}`, "type: is required", 0},
		{"missing target", `{"type":"a"}`, "target: is required", 0},
		{"type wrong kind", `{"type":5,"target":"b"}`, "body: field type must be string", 0},
		{"params wrong kind", `{"type":"a","target":"b","params":[1]}`, "body: field params must be", 0},
		{"ttl negative", `{"type":"a","target":"b","ttl":-1}`, "ttl: must be a positive integer", 0},
		{"ttl zero", `{"type":"a","target":"b","ttl":0}`, "ttl: must be a positive integer", 0},
		{"ttl fraction", `{"type":"a","target":"b","ttl":1.5}`, "ttl: must be a positive integer", 0},
		{"ttl bad string", `{"type":"a","target":"b","ttl":"soon"}`, `ttl: must be a positive whole number of seconds such as "90s" or "5m", got "soon"`, 0},
		{"ttl sub-second string", `{"type":"a","target":"b","ttl":"1500ms"}`, "ttl: must be a positive whole number", 0},
		{"ttl_seconds string", `{"type":"a","target":"b","ttl_seconds":"30s"}`, "ttl_seconds: must be an integer number of seconds", 0},
		{"both ttls", `{"type":"a","target":"b","ttl":1,"ttl_seconds":1}`, "ttl: give either ttl or ttl_seconds", 0},
		{"ttl bool", `{"type":"a","target":"b","ttl":true}`, "ttl: must be an integer of seconds", 0},
		{"huge", `{"type":"` + strings.Repeat("a", faults.MaxRequestBytes) + `","target":"b"}`, "body: larger than", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := faults.ParseRequest([]byte(tt.body))
			if tt.wantErr != "" {
				var ve *faults.ValidationError
				if !errors.As(err, &ve) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseRequest() error = %v, want ValidationError containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRequest() error = %v", err)
			}
			if r.TTL != tt.wantTTL {
				t.Errorf("TTL = %s, want %s", r.TTL, tt.wantTTL)
			}
		})
	}
}

// requireValidationError fails t unless err is a *faults.ValidationError.
func requireValidationError(t *testing.T, op string, err error) {
	t.Helper()
	if _, ok := errors.AsType[*faults.ValidationError](err); !ok {
		t.Fatalf("%s error %v is not a ValidationError", op, err)
	}
}

// FuzzParseRequest: any input is either a ValidationError or a request that the
// manager then validates without panicking; never anything else.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"type":"fake.slow","target":"alpha","params":{"delay_ms":5,"mode":"b"},"ttl":"30s"}`,
		`{"type":"fake.off","target":"beta","ttl_seconds":3}`,
		`{"type":"fake.slow","target":"alpha","params":{"delay_ms":1e400}}`,
		`{"type":"x","target":"y","params":{"a":[1,{"b":null}]}}`,
		`{"ttl":"-5s"}`, `null`, `{}`, `{"type":"a","target":"b","ttl":9223372036854775807}`,
	} {
		f.Add([]byte(s))
	}
	e := faults.NewManager(faults.Options{Drivers: []faults.Driver{newFuzzFake()}})
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := faults.ParseRequest(body)
		if err != nil {
			requireValidationError(t, "ParseRequest", err)
			return
		}
		if r.Type == "" || r.Target == "" || r.TTL < 0 {
			t.Fatalf("accepted an incomplete request: %+v", r)
		}
		f, err := e.Validate(r)
		if err != nil {
			requireValidationError(t, "Validate", err)
			return
		}
		if f.TTLSeconds < 1 || f.TTLSeconds > int64(faults.DefaultMaxTTL/time.Second) {
			t.Fatalf("validated TTL %d out of range", f.TTLSeconds)
		}
	})
}
