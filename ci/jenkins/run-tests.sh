#!/usr/bin/env bash
# The nightly pipeline's test step (ci/jenkins/Jenkinsfile), run in the job's workspace on the
# agent `docker-host`. Also usable by hand from a checkout: SCOPE=full ci/jenkins/run-tests.sh
#
#   SCOPE=drills    make suite with -m failure: the failure drills, as `pytest -m failure`   [default, cron]
#   SCOPE=full      make test  (lint, service unit tests, the whole pytest suite)
#   SCOPE=scenario  make suite with one scenario: SCENARIO=scenarios/test_nginx_502.py[::test_name]
#
# The suite's default `--lab=up` stops the `make up` lab (same port and subnets) and runs its own
# lab (compose project infralab-test) from empty volumes. The Jenkins controller lives in the
# `make up` lab, so it goes down with it; this step keeps running on the agent (a durable `sh`
# step), and at the end restarts that lab from LAB_HOME (the checkout that runs it, exported by
# ci/jenkins/agent.sh). Jenkins comes back, resumes the build, and publishes the reports.
set -uo pipefail

scope=${SCOPE:-drills}
scenario=${SCENARIO:-}
junit_xml=reports/junit.xml

say() { printf '[nightly] %s\n' "$*"; }
die() { say "$*" >&2; exit 2; }

case "$scope" in
  drills) target="suite"; pytest_args="--junitxml=$junit_xml -m failure" ;;
  full) target="test"; pytest_args="--junitxml=$junit_xml" ;;
  scenario)
    # Only a path below scenarios/ (optionally ::test): the value ends up on a command line.
    [[ "$scenario" =~ ^scenarios/test_[a-z0-9_]+\.py(::[A-Za-z0-9_]+)?$ ]] ||
      die "SCENARIO must look like scenarios/test_<name>.py[::test_<name>], got '$scenario'"
    [ -f "${scenario%%::*}" ] || die "no such scenario module: ${scenario%%::*}"
    target="suite"
    pytest_args="--junitxml=$junit_xml $scenario"
    ;;
  *) die "SCOPE must be drills, full or scenario, got '$scope'" ;;
esac

# The test lab's settings: a fresh .env each run (make/pytest fill in random secrets), with the
# optional components the regression should cover. Jenkins itself is left out of the test lab.
rm -f .env
printf 'LAB_OPTIONAL=%s\n' "${TEST_LAB_OPTIONAL:-grafana,logs}" > .env
# Results of this run only: pytest keeps earlier results (a person's runs), and a run that fails
# before pytest (lint, the venv) must not publish last night's results as its own. An empty
# directory still gets the Allure plugin's history: the trend goes on.
rm -rf reports/incidents "$junit_xml" reports/allure-results
mkdir -p reports/allure-results

say "make $target PYTEST_ARGS='$pytest_args'"
make "$target" PYTEST_ARGS="$pytest_args"
rc=$?
say "make $target exited with $rc"

# The suite tears its lab down itself; after a crash before that, do it here, so the port and
# subnets are free for the people's lab again.
if [ -x .venv/bin/python ] && [ -f .lab/components.json ]; then
  .venv/bin/python - <<'EOF' || say "could not tear the test lab down (see above)"
from infralab import stack
from infralab.images import ImagePlan

stack.down(ImagePlan.load(), project=stack.TEST_PROJECT, volumes=True)
EOF
fi

# Bring back the lab the suite stopped (and with it this Jenkins controller).
if [ "${RESTORE_LAB:-true}" = true ] && [ -n "${LAB_HOME:-}" ] && [ -f "${LAB_HOME}/Makefile" ]; then
  if [ "$(cd "$LAB_HOME" && pwd -P)" = "$(pwd -P)" ]; then
    say "LAB_HOME is this workspace: not restarting anything"
  else
    say "restarting the lab in $LAB_HOME (make up)"
    make -C "$LAB_HOME" up || say "make up in $LAB_HOME failed: start it by hand, Jenkins resumes this build then"
  fi
else
  say "LAB_HOME not set (agent not started by ci/jenkins/agent.sh?): the make-up lab stays stopped"
fi
exit "$rc"
