package traffic

import (
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Request kinds: the `kind` label of the traffic metrics and the keys of Status.ByKind.
const (
	KindGet = "get" // GET of one of the configured paths
	KindJob = "job" // POST JobPath: a job that runs core-server -> worker-server -> ext-api
)

// JobPath is core-server's jobs API behind nginx.
const JobPath = "/api/jobs"

// jobBody is the submission core-server's jobs API expects; the item only makes each job
// recognisable in logs, it is not interpreted.
const jobBody = `{"type":"quote","payload":{"item":"traffic-%d"}}`

// commonHeader marks every synthetic request so logs and nginx can tell it from real use.
var commonHeader = http.Header{"User-Agent": {"infralab-synthetic-traffic"}, "X-Synthetic-Traffic": {"1"}}

// targeter hands out the attack's requests. Request n (from 0) is a job submission when
// floor((n+1)*share/100) > floor(n*share/100): every 100 requests carry exactly `share`
// jobs, spread evenly instead of in bursts, and tests need no random source to check the
// mix. The GETs in between go round-robin over the paths.
type targeter struct {
	base  string // target URL without a trailing slash
	paths []string
	share uint64 // percent of requests that are job submissions, 0..100
	run   string // random per generator, so keys stay unique across admin-server restarts
	seq   atomic.Uint64
	jobs  *atomic.Uint64 // shared by the generator's attacks, so a settings change does not reuse keys
}

// next is a vegeta.Targeter; vegeta's workers call it concurrently.
func (t *targeter) next(tgt *vegeta.Target) error {
	if tgt == nil {
		return vegeta.ErrNilTarget
	}
	n := t.seq.Add(1) - 1
	jobsBefore := n * t.share / 100 // job submissions among requests 0..n-1
	if (n+1)*t.share/100 > jobsBefore {
		*tgt = t.job(t.jobs.Add(1))
		return nil
	}
	// commonHeader is shared: vegeta copies header values into each request it builds.
	*tgt = vegeta.Target{Method: http.MethodGet, URL: t.base + t.paths[(n-jobsBefore)%uint64(len(t.paths))], Header: commonHeader}
	return nil
}

// job builds submission number n. Idempotency-Key and X-Request-ID are unique per
// submission (core-server would replay a repeated key instead of creating a job); both
// match nginx's pattern for a client-chosen request id, so the id is traceable end to end.
func (t *targeter) job(n uint64) vegeta.Target {
	id := "traffic-" + t.run + "-" + strconv.FormatUint(n, 10)
	h := commonHeader.Clone()
	h.Set("Content-Type", "application/json")
	h.Set("Idempotency-Key", "job-"+id)
	h.Set("X-Request-ID", id)
	return vegeta.Target{Method: http.MethodPost, URL: t.base + JobPath, Header: h, Body: fmt.Appendf(nil, jobBody, n)}
}

// kindOf tells a result's kind from its method: only job submissions are POSTs.
func kindOf(method string) string {
	if method == http.MethodPost {
		return KindJob
	}
	return KindGet
}
