#!/usr/bin/env bash
# The delivery pipeline's steps (ci/jenkins/Jenkinsfile.delivery), run in the job's workspace on the
# agent `docker-host`, one per stage. Also usable by hand from a checkout of the commit to ship, with
# GIT_COMMIT and LAB_HOME set.
#
#   start            forget the previous run: reports/delivery, the smoke stage's JUnit and Allure results
#   images           this commit's images, tagged infralab/<service>:<commit[:12]> as `make deploy` names
#                    them: `make images`, then, where a registry answers (`make images` plans the services
#                    there and Compose builds them at `make up`), the services built as `make up` builds them
#   deploy SERVICE   make -C "$LAB_HOME" deploy s=SERVICE ref=$GIT_COMMIT; recorded when it finished
#   smoke            a read-only subset of tests/smoke against that lab (--lab=running, from LAB_HOME)
#   rollback         make -C "$LAB_HOME" rollback s=... for each service this run deployed, last first
#   message          the body of this run's Slack message (ci/jenkins/slack_notify.py adds the header)
#
# Deploys, rollbacks and the smoke tests run in LAB_HOME (exported by ci/jenkins/agent.sh): the lab runs
# from that checkout, with its .env (secrets, port), its saved image plan (.lab/) and its deploy log
# (.lab/deploys.jsonl, which `make rollback` reads). The commit comes from this workspace's checkout;
# LAB_HOME's repository gets it from LAB_GIT_URL when it lacks it (a fetch: no branch, no working tree
# of LAB_HOME changes).
#
# What a deploy did: `infralab deploy` exits 0 (every gate passed), 1 (a gate failed and it rolled the
# service back itself, or could not) or 2 (nothing replaced: bad input, failed build, another deploy);
# through make, any failure is make's own exit 2. So a failed deploy is told apart by the events it
# wrote to the deploy log: `rolled_back`, `rollback_failed`, a `started` with neither (its state is
# unknown), or nothing at all (nothing replaced). Only a deploy that exited 0 is recorded in
# reports/delivery/deployed: the rollback step rolls back exactly those, last first, and forgets each
# one it rolled back, so running it twice never goes back twice.
set -uo pipefail

SERVICES="core-server worker-server admin-server"
# Read-only checks of the lab as it runs now (health, routes, alert path, the versions each service
# runs): nothing here injects a fault into or restarts anything of the lab people use.
SMOKE_TESTS="tests/smoke/test_lab_shape.py tests/smoke/test_running_versions.py"
STATE=reports/delivery
DEPLOYED=$STATE/deployed                    # deployed by this run and live, in deploy order
DEPLOYING=$STATE/deploying                  # a deploy that started and never returned (aborted)
ROLLED_BACK=$STATE/rolled-back              # rolled back by this run's rollback step
ROLLED_BACK_BY_GATES=$STATE/rolled-back-by-deploy  # make deploy exit 1: rolled back by its own gates
NOT_DEPLOYED=$STATE/not-deployed            # make deploy exit 2: nothing replaced
ROLLBACK_FAILED=$STATE/rollback-failed      # make rollback, or make deploy's own rollback, did not finish
UNKNOWN=$STATE/state-unknown                # a deploy that started and ended with no outcome in the log
DEPLOY_EVENTS=$STATE/deploys.jsonl          # this run's lines of LAB_HOME's .lab/deploys.jsonl

say() { printf '[delivery] %s\n' "$*"; }
die() { say "$*" >&2; exit 2; }

need_lab() {
  if [ -z "${LAB_HOME:-}" ] || [ ! -f "${LAB_HOME}/Makefile" ]; then
    die "LAB_HOME is not the checkout of a running lab (agent not started by ci/jenkins/agent.sh?): '${LAB_HOME:-}'"
  fi
}

need_commit() {
  [[ "${GIT_COMMIT:-}" =~ ^[0-9a-f]{40}([0-9a-f]{24})?$ ]] || die "GIT_COMMIT must be a full commit id, got '${GIT_COMMIT:-}'"
  commit=$GIT_COMMIT
  version=${commit:0:12}  # infralab/versions.py: the image tag of a clean checkout of that commit
}

# LAB_HOME's repository must know the commit: `make deploy ref=` checks it out there (.lab/deploy/worktree).
commit_in_lab_home() {
  git -C "$LAB_HOME" cat-file -e "${commit}^{commit}" 2>/dev/null && return 0
  [ -n "${LAB_GIT_URL:-}" ] || die "$commit is not in $LAB_HOME's repository and LAB_GIT_URL is not set"
  say "fetching main of $LAB_GIT_URL into $LAB_HOME's repository (it lacks $version)"
  git -C "$LAB_HOME" fetch --quiet --no-tags "$LAB_GIT_URL" refs/heads/main  # what Jenkinsfile.delivery checks out
  git -C "$LAB_HOME" cat-file -e "${commit}^{commit}" 2>/dev/null ||
    die "$commit is not in $LAB_HOME's repository, not even after a fetch of $LAB_GIT_URL"
}

list() { [ -s "$1" ] && paste -sd, "$1" | sed 's/,/, /g'; }

deploy_log_lines() {
  local log="$LAB_HOME/.lab/deploys.jsonl"
  if [ -f "$log" ]; then wc -l < "$log" | tr -d ' '; else echo 0; fi
}

# The deploy log lines written since line `before` (by make deploy / make rollback).
deploy_log_since() {
  local log="$LAB_HOME/.lab/deploys.jsonl"
  [ -f "$log" ] && tail -n +"$(($1 + 1))" "$log"
  return 0
}

# The events of SERVICE among deploy log lines on stdin, one name per line.
events_of() {
  python3 -c '
import json, sys
for line in sys.stdin:
    try:
        record = json.loads(line)
    except ValueError:
        continue
    if isinstance(record, dict) and record.get("component") == sys.argv[1]:
        print(record.get("event", ""))
' "$1"
}

cmd_start() {
  # An empty results directory, not none: the Allure step still carries the trend's history over.
  rm -rf "$STATE" reports/junit.xml reports/allure-results
  mkdir -p "$STATE" reports/allure-results
}

cmd_images() {
  need_commit
  [ "$(git rev-parse HEAD)" = "$commit" ] || die "this workspace is not at $commit: run the images step in its checkout"
  # This workspace's own .env: no lab is started from it, it only decides the image path, the same
  # as the running lab's (LAB_IMAGES of LAB_HOME's .env). No optional component: only the lab's core.
  local lab_images=""
  [ -n "${LAB_HOME:-}" ] && [ -f "$LAB_HOME/.env" ] && lab_images=$(sed -n 's/^LAB_IMAGES=//p' "$LAB_HOME/.env" | tail -n 1)
  rm -f .env
  printf 'LAB_IMAGES=%s\nLAB_OPTIONAL=\n' "${lab_images:-auto}" > .env
  say "make images (LAB_IMAGES=${lab_images:-auto})"
  make images || exit 1
  .venv/bin/python - <<'EOF' || exit 1
from infralab import stack, versions
from infralab.components import COMPONENTS
from infralab.images import ImagePlan, Source

# Where a registry answers, `make images` only plans our services (Compose builds them at `make up`):
# build them here the same way, with the plan's tags and build args. One container per service: core-1
# and core-2 share core-server's image. Then keep the newest versions only, as `make up` does.
plan = ImagePlan.load()
resolved = plan.by_component()
built = [c for c in COMPONENTS if c.versioned and resolved[c.name].source is Source.BUILT]
if built:
    stack.build(stack.compose_client(plan, "infralab-delivery"), tuple(c.services[0] for c in built), print)
    for c in built:
        versions.prune(f"infralab/{c.name}")
EOF
  local service missing=""
  for service in $SERVICES; do
    docker image inspect "infralab/$service:$version" > /dev/null 2>&1 || missing="$missing $service"
  done
  [ -z "$missing" ] || { say "no image tagged $version for:$missing (see the build output above)" >&2; exit 1; }
  say "images of $version: $(for s in $SERVICES; do printf 'infralab/%s:%s ' "$s" "$version"; done)"
}

cmd_deploy() {
  local service=${1:-}
  [[ " $SERVICES " == *" $service "* ]] || die "deploy SERVICE: one of $SERVICES, got '$service'"
  need_lab
  need_commit
  commit_in_lab_home
  mkdir -p "$STATE"
  local before rc
  before=$(deploy_log_lines)
  echo "$service" > "$DEPLOYING"
  say "make -C $LAB_HOME deploy s=$service ref=$commit"
  make -C "$LAB_HOME" deploy s="$service" ref="$commit"
  rc=$?
  rm -f "$DEPLOYING"
  local lines events
  lines=$(deploy_log_since "$before")
  [ -n "$lines" ] && printf '%s\n' "$lines" >> "$DEPLOY_EVENTS"
  events=$(printf '%s\n' "$lines" | events_of "$service")
  if [ "$rc" -eq 0 ]; then
    echo "$service" >> "$DEPLOYED"
    say "$service runs $version"
  elif grep -qx rollback_failed <<< "$events"; then
    echo "$service" >> "$ROLLBACK_FAILED"
    say "$service: a gate failed and make deploy could not roll it back: a person must look" >&2
  elif grep -qx rolled_back <<< "$events"; then
    echo "$service" >> "$ROLLED_BACK_BY_GATES"
    say "$service: a gate failed, make deploy rolled it back itself"
  elif grep -qx started <<< "$events"; then
    echo "$service" >> "$UNKNOWN"
    say "$service: make deploy started replacing it and failed with no outcome in the deploy log" >&2
  else
    echo "$service" >> "$NOT_DEPLOYED"
    say "$service: make deploy replaced nothing (see its output above)"
  fi
  return "$rc"
}

cmd_smoke() {
  need_lab
  local workspace
  workspace=$(pwd -P)
  mkdir -p reports
  say "smoke tests against the running lab of $LAB_HOME: $SMOKE_TESTS"
  # shellcheck disable=SC2086  # SMOKE_TESTS is a list of paths
  (cd "$LAB_HOME" && .venv/bin/python -m pytest --lab=running -p no:cacheprovider -q \
    --junitxml="$workspace/reports/junit.xml" --alluredir="$workspace/reports/allure-results" $SMOKE_TESTS)
}

cmd_rollback() {
  need_lab
  mkdir -p "$STATE"
  if [ -f "$DEPLOYING" ]; then
    say "the deploy of $(cat "$DEPLOYING") was interrupted: its state is unknown, it is not rolled back here" >&2
    cat "$DEPLOYING" >> "$UNKNOWN"
    rm -f "$DEPLOYING"
  fi
  if [ -s "$UNKNOWN" ] || [ -s "$ROLLBACK_FAILED" ]; then
    say "look at \`make versions\` and .lab/deploys.jsonl in $LAB_HOME for: $(cat "$UNKNOWN" "$ROLLBACK_FAILED" 2> /dev/null | xargs)" >&2
  fi
  if [ ! -s "$DEPLOYED" ]; then
    say "nothing this run deployed is live: nothing to roll back"
    return 0
  fi
  local service last_first="" rc=0 before
  while IFS= read -r service; do
    [ -n "$service" ] && last_first="$service $last_first"
  done < "$DEPLOYED"
  for service in $last_first; do
    before=$(deploy_log_lines)
    say "make -C $LAB_HOME rollback s=$service"
    if make -C "$LAB_HOME" rollback s="$service"; then
      echo "$service" >> "$ROLLED_BACK"
      # Forget it: a second rollback would go back to the version this run deployed.
      grep -vxF "$service" "$DEPLOYED" > "$DEPLOYED.new"
      mv "$DEPLOYED.new" "$DEPLOYED"
    else
      echo "$service" >> "$ROLLBACK_FAILED"
      rc=1
    fi
    deploy_log_since "$before" >> "$DEPLOY_EVENTS"
  done
  return "$rc"
}

cmd_message() {
  local commit_line="commit ?"
  if [ -n "${GIT_COMMIT:-}" ]; then
    commit_line="\`${GIT_COMMIT:0:12}\` $(git log -1 --format=%s "$GIT_COMMIT" 2> /dev/null)"
  fi
  echo "$commit_line"
  [ -s "$DEPLOYED" ] && echo "live now: $(list "$DEPLOYED")"
  [ -s "$ROLLED_BACK" ] && echo "rolled back by this run: $(list "$ROLLED_BACK")"
  [ -s "$ROLLED_BACK_BY_GATES" ] && echo "rolled back by its deploy gates: $(list "$ROLLED_BACK_BY_GATES")"
  [ -s "$NOT_DEPLOYED" ] && echo "not deployed (nothing replaced): $(list "$NOT_DEPLOYED")"
  [ -s "$ROLLBACK_FAILED" ] && echo "ROLLBACK FAILED, a person must look (make versions): $(list "$ROLLBACK_FAILED")"
  [ -s "$UNKNOWN" ] && echo "STATE UNKNOWN, a person must look (make versions): $(list "$UNKNOWN")"
  [ -f "$DEPLOYING" ] && echo "deploy interrupted, STATE UNKNOWN (make versions): $(cat "$DEPLOYING")"
  local file ran=""
  for file in "$DEPLOYED" "$ROLLED_BACK" "$ROLLED_BACK_BY_GATES" "$NOT_DEPLOYED" "$ROLLBACK_FAILED" "$UNKNOWN" "$DEPLOYING"; do
    [ -s "$file" ] && ran=yes
  done
  [ -n "$ran" ] || echo "no deploy ran"
  return 0
}

command=${1:-}
[ $# -gt 0 ] && shift
case "$command" in
  start) cmd_start ;;
  images) cmd_images ;;
  deploy) cmd_deploy "$@" ;;
  smoke) cmd_smoke ;;
  rollback) cmd_rollback ;;
  message) cmd_message ;;
  *) die "usage: $0 start|images|deploy SERVICE|smoke|rollback|message" ;;
esac
