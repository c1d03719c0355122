"""infra-lab's operational test suite: building blocks for stack control, images,
Prometheus and alert assertions, SLO waits and drill timelines."""
