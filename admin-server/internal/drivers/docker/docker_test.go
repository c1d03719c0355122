package docker_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/infra-lab/admin-server/internal/drivers/docker"
	"github.com/infra-lab/admin-server/internal/faults"
)

// The throwaway containers run this local image (built by the offline image path).
const testImage = "infralab/debian-base:bookworm"

const socket = "/var/run/docker.sock"

// engine is a bare client for what the driver must not do itself (create, remove).
func engine(t *testing.T) *http.Client {
	t.Helper()
	c := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		}}}
	resp, err := c.Get("http://docker/_ping")
	if err != nil {
		t.Skipf("no reachable Docker engine at %s (%v): the container driver is tested against a real engine only, CI runs it", socket, err)
	}
	resp.Body.Close()
	resp, err = c.Get("http://docker/" + docker.APIVersion + "/images/" + testImage + "/json")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Skipf("image %s is not present on this engine; build the offline base image first", testImage)
	}
	resp.Body.Close()
	return c
}

func call(t *testing.T, c *http.Client, method, path string, body any) []byte {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://docker/"+docker.APIVersion+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, out)
	}
	return out
}

// container starts a throwaway container that exits promptly on SIGTERM and is
// removed when the test ends.
func container(t *testing.T, c *http.Client, labelled bool) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "infralab-admin-test-" + hex.EncodeToString(b[:])
	labels := map[string]string{"infralab.test": "admin-server-docker-driver"}
	if labelled {
		labels[docker.TargetLabel] = "true"
	}
	call(t, c, http.MethodPost, "/containers/create?name="+name, map[string]any{
		"Image":      testImage,
		"Cmd":        []string{"sh", "-c", "trap 'exit 0' TERM; sleep 300 & wait"},
		"Labels":     labels,
		"HostConfig": map[string]any{"NetworkMode": "none"},
	})
	t.Cleanup(func() {
		req, _ := http.NewRequest(http.MethodDelete, "http://docker/"+docker.APIVersion+"/containers/"+name+"?force=1", nil)
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
		}
	})
	call(t, c, http.MethodPost, "/containers/"+name+"/start", nil)
	return name
}

func TestContainerFaultsAgainstRealEngine(t *testing.T) {
	c := engine(t)
	target := container(t, c, true)
	other := container(t, c, false)

	d, err := docker.New("unix://" + socket)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	names, err := d.Targets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !contains(names, target) || contains(names, other) {
		t.Fatalf("Targets() = %v, want %s and not the unlabelled %s", names, target, other)
	}

	m := faults.NewManager(faults.Options{Drivers: []faults.Driver{d}})
	actor := faults.Actor{Name: "test"}
	if _, err := m.Inject(ctx, faults.Request{Type: "container.stop", Target: other}, actor); !errors.Is(err, faults.ErrUnknownTarget) {
		t.Fatalf("inject on an unlabelled container: %v, want ErrUnknownTarget", err)
	}

	tests := []struct {
		typ    string
		params map[string]any
		check  func(docker.ContainerState) bool
		want   string
	}{
		{"container.stop", nil, func(s docker.ContainerState) bool { return !s.Running }, "stopped"},
		{"container.pause", nil, func(s docker.ContainerState) bool { return s.Paused }, "paused"},
		{"container.kill", map[string]any{"signal": "SIGKILL"}, func(s docker.ContainerState) bool { return !s.Running }, "not running"},
		{"container.restart", nil, func(s docker.ContainerState) bool { return s.Running }, "running"},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			f, err := m.Inject(ctx, faults.Request{Type: tt.typ, Target: target, Params: tt.params}, actor)
			if err != nil {
				t.Fatalf("Inject() = %v", err)
			}
			st := waitState(t, d, target, tt.check)
			if !tt.check(st) {
				t.Fatalf("after %s: state %+v, want %s", tt.typ, st, tt.want)
			}
			if _, err := m.Inject(ctx, faults.Request{Type: "container.pause", Target: target}, actor); !errors.Is(err, faults.ErrConflict) {
				t.Fatalf("second fault on the same container: %v, want ErrConflict", err)
			}
			if _, err := m.Revert(ctx, f.ID, actor); err != nil {
				t.Fatalf("Revert() = %v", err)
			}
			st = waitState(t, d, target, func(s docker.ContainerState) bool { return s.Running && !s.Paused })
			if !st.Running || st.Paused {
				t.Fatalf("after revert: state %+v, want running", st)
			}
		})
	}
}

func waitState(t *testing.T, d *docker.Driver, name string, ok func(docker.ContainerState) bool) docker.ContainerState {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := d.Inspect(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		if ok(st) || time.Now().After(deadline) {
			return st
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestNewParsesDockerHost(t *testing.T) {
	tests := []struct {
		host    string
		wantErr string
	}{
		{"tcp://docker-proxy:2375", ""},
		{"unix:///var/run/docker.sock", ""},
		{"http://127.0.0.1:2375", ""},
		{"ssh://host", "scheme must be"},
		{"tcp://", "has no host"},
	}
	for _, tt := range tests {
		_, err := docker.New(tt.host)
		if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("New(%q) = %v, want error %q", tt.host, err, tt.wantErr)
		}
	}
}

func TestUnreachableEngineIsABackendError(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	d, _ := docker.New("tcp://" + addr)
	m := faults.NewManager(faults.Options{Drivers: []faults.Driver{d}})
	_, err := m.Inject(context.Background(), faults.Request{Type: "container.stop", Target: "core-server"}, faults.Actor{Name: "test"})
	var be *faults.BackendError
	if !errors.As(err, &be) {
		t.Fatalf("error = %v, want a BackendError", err)
	}
}
