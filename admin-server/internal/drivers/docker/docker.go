// Package docker drives container faults (stop, pause, kill, restart) through the
// Docker Engine API. Only containers labelled infralab.chaos-target=true are
// targets; in the lab the API is reached through a socket proxy that allows only
// the endpoints used here (see README).
package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/infra-lab/admin-server/internal/drivers/httpjson"
	"github.com/infra-lab/admin-server/internal/faults"
)

// APIVersion is the Engine API version prefix used on every call (Docker 20.10+).
const APIVersion = "v1.41"

// TargetLabel marks containers that may be broken on purpose.
const TargetLabel = "infralab.chaos-target"

// StopTimeoutSeconds is the grace period given to stop and restart.
const StopTimeoutSeconds = 5

// Driver is a minimal Engine API client.
type Driver struct {
	base   string // http://host:port, or http://docker for a unix socket
	client *http.Client
}

// New parses host as DOCKER_HOST: tcp://host:port, unix:///path, or http(s)://...
func New(host string) (*Driver, error) {
	u, err := url.Parse(host)
	if err != nil {
		return nil, fmt.Errorf("DOCKER_HOST %q: %w", host, err)
	}
	tr := &http.Transport{MaxIdleConns: 4, IdleConnTimeout: 30 * time.Second}
	d := &Driver{client: &http.Client{Timeout: 30 * time.Second, Transport: tr}}
	switch u.Scheme {
	case "tcp", "http":
		d.base = "http://" + u.Host
	case "https":
		d.base = "https://" + u.Host
	case "unix":
		path := u.Path
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}
		d.base = "http://docker"
	default:
		return nil, fmt.Errorf("DOCKER_HOST %q: scheme must be tcp, unix, http or https", host)
	}
	if u.Host == "" && u.Scheme != "unix" {
		return nil, fmt.Errorf("DOCKER_HOST %q has no host", host)
	}
	return d, nil
}

func (d *Driver) Name() string { return "container" }

func (d *Driver) Types() []faults.Type {
	return []faults.Type{
		{Name: "container.stop", Description: "Stop the container (SIGTERM, then SIGKILL after 5 s); revert starts it.", Params: []faults.ParamSpec{}},
		{Name: "container.pause", Description: "Freeze every process of the container (cgroup freezer); revert unpauses it.", Params: []faults.ParamSpec{}},
		{Name: "container.kill", Description: "Send a signal to the container's main process; revert starts it if it is not running.", Params: []faults.ParamSpec{
			{Name: "signal", Kind: faults.KindEnum, Description: "signal to send", Enum: []string{"SIGKILL", "SIGTERM", "SIGINT", "SIGHUP"}, Default: "SIGKILL"}}},
		{Name: "container.restart", Description: "Restart the container once; revert only makes sure it runs.", Params: []faults.ParamSpec{}},
	}
}

// Container is the part of the list answer used here.
type Container struct {
	ID     string            `json:"Id"`
	Names  []string          `json:"Names"`
	State  string            `json:"State"`
	Labels map[string]string `json:"Labels"`
}

// Name is the container name without the leading slash.
func (c Container) Name() string {
	if len(c.Names) == 0 {
		return c.ID
	}
	return strings.TrimPrefix(c.Names[0], "/")
}

// List returns the labelled containers (running or not).
func (d *Driver) List(ctx context.Context) ([]Container, error) {
	filters, _ := json.Marshal(map[string][]string{"label": {TargetLabel + "=true"}})
	var out []Container
	if err := d.do(ctx, http.MethodGet, "/containers/json?all=1&filters="+url.QueryEscape(string(filters)), &out, http.StatusOK); err != nil {
		return nil, err
	}
	// Belt and braces: a proxy that ignored the filter must not widen the set.
	out = slices.DeleteFunc(out, func(c Container) bool { return c.Labels[TargetLabel] != "true" })
	return out, nil
}

func (d *Driver) Targets(ctx context.Context) ([]string, error) {
	cs, err := d.List(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(cs))
	for _, c := range cs {
		names = append(names, c.Name())
	}
	slices.Sort(names)
	return names, nil
}

// Resolve finds the labelled container by name (or full id) and records its id.
func (d *Driver) Resolve(ctx context.Context, f *faults.Fault) error {
	cs, err := d.List(ctx)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.Name() == f.Target || c.ID == f.Target {
			if f.DriverData == nil {
				f.DriverData = map[string]string{}
			}
			f.DriverData["container_id"] = c.ID
			return nil
		}
	}
	return fmt.Errorf("%w %q: no container with label %s=true has that name", faults.ErrUnknownTarget, f.Target, TargetLabel)
}

func (d *Driver) ConflictKey(f *faults.Fault) string { return f.Target }

func (d *Driver) Inject(ctx context.Context, f *faults.Fault) error {
	id := f.DriverData["container_id"]
	switch f.Type {
	case "container.stop":
		return d.post(ctx, id, fmt.Sprintf("stop?t=%d", StopTimeoutSeconds))
	case "container.pause":
		return d.post(ctx, id, "pause")
	case "container.kill":
		return d.post(ctx, id, "kill?signal="+url.QueryEscape(f.String("signal")))
	case "container.restart":
		return d.post(ctx, id, fmt.Sprintf("restart?t=%d", StopTimeoutSeconds))
	}
	return fmt.Errorf("unsupported fault type %s", f.Type)
}

// Revert brings the container back to running, whatever the fault did.
func (d *Driver) Revert(ctx context.Context, f *faults.Fault) error {
	id := f.DriverData["container_id"]
	st, err := d.Inspect(ctx, id)
	if err != nil {
		return err
	}
	switch {
	case st.Paused:
		return d.post(ctx, id, "unpause")
	case !st.Running && !st.Restarting:
		return d.post(ctx, id, "start")
	}
	return nil
}

// ContainerState is the State object of an inspect answer.
type ContainerState struct {
	Status     string `json:"Status"`
	Running    bool   `json:"Running"`
	Paused     bool   `json:"Paused"`
	Restarting bool   `json:"Restarting"`
}

// Inspect returns the container's state.
func (d *Driver) Inspect(ctx context.Context, id string) (ContainerState, error) {
	var out struct {
		State ContainerState `json:"State"`
	}
	err := d.do(ctx, http.MethodGet, "/containers/"+url.PathEscape(id)+"/json", &out, http.StatusOK)
	return out.State, err
}

// Ping checks that the API (or the socket proxy) answers.
func (d *Driver) Ping(ctx context.Context) error {
	return d.do(ctx, http.MethodGet, "/_ping", nil, http.StatusOK)
}

func (d *Driver) post(ctx context.Context, id, action string) error {
	if id == "" {
		return fmt.Errorf("no container id recorded")
	}
	// 304: already in the requested state (e.g. start on a running container).
	return d.do(ctx, http.MethodPost, "/containers/"+url.PathEscape(id)+"/"+action, nil, http.StatusNoContent, http.StatusNotModified, http.StatusOK)
}

func (d *Driver) do(ctx context.Context, method, path string, out any, ok ...int) error {
	req, err := http.NewRequestWithContext(ctx, method, d.base+"/"+APIVersion+path, nil)
	if err != nil {
		return err
	}
	return httpjson.Do(d.client, req, "docker "+method+" "+path, out, ok...)
}
