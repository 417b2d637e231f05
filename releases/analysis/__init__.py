"""Metric analysis: asking an environment's Prometheus (prometheus.py) and judging its answer
by a success condition (condition.py). The services that act on the answers are
releases.services.promql_triggers (the plan's PromQL triggers) and releases.services.analysis
(a rollout stage's analysis)."""
