// Package chaos drives the chaos contract (docs/contracts/chaos.md) of core-server
// and worker-server: POST/DELETE /internal/chaos/{kind} on their ops ports.
package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/infra-lab/admin-server/internal/faults"
	"github.com/infra-lab/admin-server/internal/requestid"
)

// ContractMaxTTL is the contract's cap on duration_seconds.
const ContractMaxTTL = 600 * time.Second

// Driver talks to a fixed set of services by name.
type Driver struct {
	targets map[string]string // name -> base URL, e.g. http://core-server:8081
	client  *http.Client
}

// New returns a driver; targets maps a target name to the service's ops base URL.
func New(targets map[string]string, client *http.Client) *Driver {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	t := make(map[string]string, len(targets))
	for k, v := range targets {
		t[k] = strings.TrimRight(v, "/")
	}
	return &Driver{targets: t, client: client}
}

func (d *Driver) Name() string { return "chaos" }

func ip(name, desc string, lo, hi, def int64) faults.ParamSpec {
	return faults.ParamSpec{Name: name, Kind: faults.KindInteger, Description: desc, Min: lo, Max: hi, Default: def}
}

// Types mirrors the contract's kinds and ranges; duration_seconds comes from the TTL.
func (d *Driver) Types() []faults.Type {
	return []faults.Type{
		{Name: "chaos.cpu", Description: "Busy loops inside the service process.", MaxTTL: ContractMaxTTL, Params: []faults.ParamSpec{
			ip("workers", "busy goroutines/threads", 1, 4, 1),
			ip("load_percent", "duty cycle of each worker", 1, 100, 100)}},
		{Name: "chaos.memory", Description: "Allocate and retain memory (a leak) until the fault ends.", MaxTTL: ContractMaxTTL, Params: []faults.ParamSpec{
			ip("rate_mib_per_second", "allocation rate", 1, 64, 8),
			ip("max_mib", "stop growing at this size", 1, 2048, 256)}},
		{Name: "chaos.latency", Description: "Delay added to the service's app-port requests.", MaxTTL: ContractMaxTTL, Params: []faults.ParamSpec{
			ip("delay_ms", "added delay", 1, 30000, 500),
			ip("jitter_ms", "random extra delay up to this", 0, 10000, 0),
			ip("percent", "share of requests affected", 1, 100, 100)}},
		{Name: "chaos.errors", Description: "App-port requests fail with an error status.", MaxTTL: ContractMaxTTL, Params: []faults.ParamSpec{
			ip("percent", "share of requests failing", 1, 100, 100),
			ip("status", "HTTP status returned", 500, 599, 500)}},
		{Name: "chaos.disk", Description: "A ballast file filling the service's data disk.", MaxTTL: ContractMaxTTL, Params: []faults.ParamSpec{
			ip("size_mib", "ballast size", 1, 10240, 100)}},
	}
}

func (d *Driver) Targets(context.Context) ([]string, error) {
	out := make([]string, 0, len(d.targets))
	for k := range d.targets {
		out = append(out, k)
	}
	slices.Sort(out)
	return out, nil
}

func (d *Driver) Resolve(_ context.Context, f *faults.Fault) error {
	if _, ok := d.targets[f.Target]; !ok {
		names, _ := d.Targets(context.Background())
		return fmt.Errorf("%w %q for %s (known: %s)", faults.ErrUnknownTarget, f.Target, f.Type, strings.Join(names, ", "))
	}
	return nil
}

func kind(f *faults.Fault) string { return strings.TrimPrefix(f.Type, "chaos.") }

func (d *Driver) ConflictKey(f *faults.Fault) string { return f.Target + "/" + kind(f) }

func (d *Driver) Inject(ctx context.Context, f *faults.Fault) error {
	body := map[string]any{"duration_seconds": f.TTLSeconds}
	for k, v := range f.Params {
		body[k] = v
	}
	b, _ := json.Marshal(body)
	status, msg, err := d.call(ctx, http.MethodPost, f.Target, "/internal/chaos/"+kind(f), b)
	if err != nil {
		return err
	}
	if status != http.StatusCreated && status != http.StatusOK {
		return fmt.Errorf("%s answered %d: %s", f.Target, status, msg)
	}
	return nil
}

// Revert deletes the kind; 404 means it already expired on the service, which is fine.
func (d *Driver) Revert(ctx context.Context, f *faults.Fault) error {
	status, msg, err := d.call(ctx, http.MethodDelete, f.Target, "/internal/chaos/"+kind(f), nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK && status != http.StatusNotFound && status != http.StatusNoContent {
		return fmt.Errorf("%s answered %d: %s", f.Target, status, msg)
	}
	return nil
}

func (d *Driver) call(ctx context.Context, method, target, path string, body []byte) (int, string, error) {
	base, ok := d.targets[target]
	if !ok {
		return 0, "", fmt.Errorf("%w %q", faults.ErrUnknownTarget, target)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return 0, "", err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if id := requestid.FromContext(ctx); id != "" {
		req.Header.Set(requestid.Header, id) // one id across the hops of an injection
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var e struct {
		Message string `json:"message"`
	}
	msg := strings.TrimSpace(string(raw))
	if json.Unmarshal(raw, &e) == nil && e.Message != "" {
		msg = e.Message
	}
	return resp.StatusCode, msg, nil
}
