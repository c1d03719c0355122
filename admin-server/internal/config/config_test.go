package config

import (
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

const goodToken = "0123456789abcdef" // exactly MinTokenLength

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		vars    map[string]string
		wantErr string // substring; empty means success
		want    Config
	}{
		{
			name: "defaults with token",
			vars: map[string]string{"ADMIN_TOKEN": goodToken},
			want: Config{AppPort: 8080, OpsPort: 8081, Token: goodToken, LogLevel: slog.LevelInfo, SentryEnvironment: "lab",
				Build: Build{Version: "dev", Commit: "unknown"}},
		},
		{
			name: "all set",
			vars: map[string]string{"ADMIN_TOKEN": goodToken + "xyz", "APP_PORT": "9000", "OPS_PORT": "9001", "LOG_LEVEL": "DEBUG",
				"SENTRY_DSN": " http://admin@sentry-sink:8080/3 ", "SENTRY_ENVIRONMENT": "staging",
				"APP_VERSION": "6492e4b1c0de-dirty", "APP_COMMIT": "6492e4b1c0de0123456789abcdef0123456789ab"},
			want: Config{AppPort: 9000, OpsPort: 9001, Token: goodToken + "xyz", LogLevel: slog.LevelDebug,
				SentryDSN: "http://admin@sentry-sink:8080/3", SentryEnvironment: "staging",
				Build: Build{Version: "6492e4b1c0de-dirty", Commit: "6492e4b1c0de0123456789abcdef0123456789ab"}},
		},
		{name: "token missing", vars: map[string]string{}, wantErr: "ADMIN_TOKEN is required"},
		{name: "token empty", vars: map[string]string{"ADMIN_TOKEN": ""}, wantErr: "ADMIN_TOKEN is required"},
		{name: "token 15 chars", vars: map[string]string{"ADMIN_TOKEN": goodToken[:15]}, wantErr: "ADMIN_TOKEN is too short: 15 characters"},
		{name: "token with trailing CR", vars: map[string]string{"ADMIN_TOKEN": goodToken + "\r"}, wantErr: "must not contain whitespace"},
		{name: "token with space", vars: map[string]string{"ADMIN_TOKEN": "0123456789 abcdef"}, wantErr: "must not contain whitespace"},
		{name: "port not a number", vars: map[string]string{"ADMIN_TOKEN": goodToken, "APP_PORT": "http"}, wantErr: `APP_PORT must be a port number`},
		{name: "port out of range", vars: map[string]string{"ADMIN_TOKEN": goodToken, "OPS_PORT": "70000"}, wantErr: `OPS_PORT must be a port number`},
		{name: "same ports", vars: map[string]string{"ADMIN_TOKEN": goodToken, "APP_PORT": "8081"}, wantErr: "must differ"},
		{name: "bad log level", vars: map[string]string{"ADMIN_TOKEN": goodToken, "LOG_LEVEL": "verbose"}, wantErr: "LOG_LEVEL must be one of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(env(tt.vars))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load() error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load() unexpected error: %v", err)
			}
			got.Lab = Lab{} // lab settings have their own test
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Load() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestLoadBuild: the build's values are free text and never refused; only unset or
// blank means a developer build, and invalid UTF-8 is made valid for the metric and JSON.
func TestLoadBuild(t *testing.T) {
	tests := []struct {
		name    string
		vars    map[string]string
		want    Build
		wantErr bool // the rest of the config is invalid: Load refuses, LoadBuild still answers
	}{
		{name: "unset", vars: map[string]string{}, want: Build{Version: "dev", Commit: "unknown"}},
		{name: "empty", vars: map[string]string{"APP_VERSION": "", "APP_COMMIT": ""}, want: Build{Version: "dev", Commit: "unknown"}},
		{name: "blank", vars: map[string]string{"APP_VERSION": " \r\n", "APP_COMMIT": "\t"}, want: Build{Version: "dev", Commit: "unknown"}},
		{name: "image build", vars: map[string]string{"APP_VERSION": "6492e4b1c0de", "APP_COMMIT": "6492e4b1c0de0123456789abcdef0123456789ab"},
			want: Build{Version: "6492e4b1c0de", Commit: "6492e4b1c0de0123456789abcdef0123456789ab"}},
		{name: "dirty with a CR from an env file", vars: map[string]string{"APP_VERSION": "6492e4b1c0de-dirty\r"},
			want: Build{Version: "6492e4b1c0de-dirty", Commit: "unknown"}},
		{name: "free text kept", vars: map[string]string{"APP_VERSION": `v"1\2 {x}`, "APP_COMMIT": "a,b=c\nd"},
			want: Build{Version: `v"1\2 {x}`, Commit: "a,b=c\nd"}},
		{name: "invalid UTF-8 replaced", vars: map[string]string{"APP_VERSION": "v\xff1", "APP_COMMIT": "\xc3"},
			want: Build{Version: "v\uFFFD1", Commit: "\uFFFD"}},
		{name: "with an invalid config", vars: map[string]string{"APP_VERSION": "abc", "ADMIN_TOKEN": "short"},
			want: Build{Version: "abc", Commit: "unknown"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := LoadBuild(env(tt.vars)); got != tt.want {
				t.Errorf("LoadBuild() = %+v, want %+v", got, tt.want)
			}
			vars := map[string]string{"ADMIN_TOKEN": goodToken}
			for k, v := range tt.vars {
				vars[k] = v
			}
			cfg, err := Load(env(vars))
			if (err != nil) != tt.wantErr {
				t.Fatalf("Load() error = %v, want error: %v", err, tt.wantErr)
			}
			if err == nil && cfg.Build != tt.want {
				t.Errorf("Load().Build = %+v, want %+v", cfg.Build, tt.want)
			}
		})
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	_, err := Load(env(map[string]string{"APP_PORT": "x", "LOG_LEVEL": "loud"}))
	if err == nil {
		t.Fatal("Load() succeeded with three invalid variables")
	}
	for _, want := range []string{"APP_PORT", "ADMIN_TOKEN", "LOG_LEVEL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestAddrs(t *testing.T) {
	cfg := Config{AppPort: 8080, OpsPort: 8081}
	if got := cfg.AppAddr(); got != "0.0.0.0:8080" {
		t.Errorf("AppAddr() = %q", got)
	}
	if got := cfg.OpsAddr(); got != "0.0.0.0:8081" {
		t.Errorf("OpsAddr() = %q", got)
	}
}

func TestLogValueHidesToken(t *testing.T) {
	cfg := Config{AppPort: 8080, OpsPort: 8081, Token: "s3cr3t-s3cr3t-s3cr3t"}
	got := cfg.LogValue().String()
	if strings.Contains(got, cfg.Token) {
		t.Fatalf("LogValue() leaks the token: %s", got)
	}
	if !strings.Contains(got, "admin_token_length=20") {
		t.Fatalf("LogValue() = %s, want the token length", got)
	}
}
