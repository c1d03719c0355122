#!/usr/bin/env python3
"""Measures the jobs path of a running core-server against a stand-in worker run here.

Usage: scripts/measure-jobs.sh (starts a throwaway PostgreSQL, the jar and this script).
Standard library only. Traffic goes to 127.0.0.1 only and is bounded (a few hundred requests).
"""

import json
import os
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

APP = f"http://127.0.0.1:{os.environ.get('APP_PORT', '18080')}"
OPS = f"http://127.0.0.1:{os.environ.get('OPS_PORT', '18081')}"
WORKER_PORT = int(os.environ.get("WORKER_PORT", "18090"))


class Worker(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        threading.Thread(target=callback, args=(body,), daemon=True).start()


def callback(body):
    result = json.dumps(
        {
            "job_id": body["job_id"],
            "status": "SUCCEEDED",
            "result": {"price": 1},
            "error": None,
            "attempt": body["attempt"],
            "finished_at": "2026-11-26T06:00:00.000Z",
        }
    ).encode()
    req = urllib.request.Request(
        body["callback_url"], data=result, method="PUT", headers={"Content-Type": "application/json"}
    )
    urllib.request.urlopen(req, timeout=10).read()


def start_worker():
    server = ThreadingHTTPServer(("127.0.0.1", WORKER_PORT), Worker)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def call(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(req, timeout=10) as resp:
        payload = resp.read()
    return (time.perf_counter() - started) * 1000, json.loads(payload) if payload else None


def post_job(i):
    return call("POST", APP + "/api/jobs", {"type": "quote", "payload": {"symbol": "ABC", "n": i}})


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def summary(name, values):
    print(
        f"{name}: n={len(values)} p50={pct(values, 50):.1f} ms p95={pct(values, 95):.1f} ms "
        f"p99={pct(values, 99):.1f} ms max={max(values):.1f} ms"
    )


def counts():
    return call("GET", APP + "/api/jobs/stats")[1]


def wait_until(predicate, timeout):
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if predicate():
            return time.perf_counter() - started
        time.sleep(0.05)
    raise SystemExit("timed out")


def metric(name):
    text = urllib.request.urlopen(OPS + "/actuator/prometheus", timeout=10).read().decode()
    return [line for line in text.splitlines() if line.startswith(name)]


def main():
    worker = start_worker()
    for i in range(30):  # warm-up
        post_job(i)
    wait_until(lambda: counts()["outbox"]["size"] == 0, 30)

    summary("POST /api/jobs (sequential)", [post_job(i)[0] for i in range(300)])
    summary("GET /api/jobs/stats", [call("GET", APP + "/api/jobs/stats")[0] for _ in range(100)])
    some_id = call("GET", APP + "/api/jobs?limit=1")[1]["items"][0]["id"]
    summary("GET /api/jobs/{id}", [call("GET", APP + "/api/jobs/" + some_id)[0] for _ in range(100)])
    summary("GET /api/jobs?limit=50", [call("GET", APP + "/api/jobs?limit=50")[0] for _ in range(100)])

    wait_until(lambda: counts()["counts"]["PENDING"] + counts()["counts"]["DISPATCHED"] == 0, 60)
    done = counts()["counts"]["SUCCEEDED"]
    started = time.perf_counter()
    for i in range(100):
        post_job(i)
    posted = time.perf_counter() - started
    elapsed = wait_until(lambda: counts()["counts"]["SUCCEEDED"] == done + 100, 60)
    print(f"100 jobs posted in {posted:.2f} s; all SUCCEEDED {posted + elapsed:.2f} s after the first POST")

    worker.shutdown()
    worker.server_close()
    done = counts()["counts"]["SUCCEEDED"]
    for i in range(50):
        post_job(i)
    time.sleep(15)
    stats = counts()
    print(
        f"worker down 15 s with 50 jobs: outbox size={stats['outbox']['size']} lag={stats['outbox']['lag_seconds']} s;",
        ", ".join(line.split("{")[1] for line in metric("core_dispatch_attempts_total") if "connection_error" in line),
    )
    time.sleep(0.5)
    print("  metric:", metric("core_outbox_lag_seconds")[0])
    worker = start_worker()
    up = time.perf_counter()
    wait_until(lambda: counts()["counts"]["SUCCEEDED"] == done + 50, 120)
    print(f"  worker back: all 50 SUCCEEDED {time.perf_counter() - up:.2f} s later (backoff cap decides this)")
    print("final:", json.dumps(counts()))
    finished = metric("core_jobs_finished_total")
    print("core_jobs_finished_total:", finished)
    worker.shutdown()


if __name__ == "__main__":
    main()
