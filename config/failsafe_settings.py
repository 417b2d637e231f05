"""Failsafe's own settings, read from the environment: the rollback engine, drift, metric
analysis, the alert and registry intakes, evidence packs and the rollback notices.
config/settings.py takes them in; Django's and the infrastructure's settings stay there."""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

from config.env import env_int, env_secret

# --- drift (releases/drift/): every environment's backend against the record ------------
RECONCILE_SECONDS = env_int("RECONCILE_SECONDS", default=30)
# One backend's status read, at most (its own timeout is capped to this): a dead, hung or
# slow backend is "unknown" after it, never a drift.
RECONCILE_STATUS_TIMEOUT_SECONDS = env_int("RECONCILE_STATUS_TIMEOUT_SECONDS", default=5)

# --- rollbacks -------------------------------------------------------------------------
ROLLBACK_VERIFY_SECONDS = env_int("ROLLBACK_VERIFY_SECONDS", default=60)  # until verified live
ROLLBACK_POLL_SECONDS = 0.2  # between status reads while verifying
# A run's claim on its request, renewed every third of it while the run works: a dead
# worker's run is taken over by the sweep within one lease.
ROLLBACK_LEASE_SECONDS = env_int("ROLLBACK_LEASE_SECONDS", default=15)
ROLLBACK_RUN_LIMIT_SECONDS = 1800  # renewed no longer: a run still going is presumed hung
ROLLBACK_REQUEUE_SECONDS = env_int("ROLLBACK_REQUEUE_SECONDS", default=10)  # not picked up yet
ROLLBACK_MAX_RETRIES = env_int("ROLLBACK_MAX_RETRIES", default=5)
ROLLBACK_REPRESS_SECONDS = 300  # a press this soon after a success returns that rollback
# A rollout step still pending this long after it was sent is sent again (its task retries
# for well under a minute); one still pending after the patience is failed, so that it no
# longer holds the deployment gate and the drift reconcile of its environment.
ROLLOUT_REQUEUE_SECONDS = env_int("ROLLOUT_REQUEUE_SECONDS", default=300)
ROLLOUT_PATIENCE_SECONDS = env_int("ROLLOUT_PATIENCE_SECONDS", default=3600)
# Workers that take this queue run rollbacks; dedicate some so a rollback never waits
# behind other work (`celery worker -Q rollbacks`).
ROLLBACK_QUEUE = os.environ.get("ROLLBACK_QUEUE", "celery")
ROLLBACK_BACKOFF_SECONDS = 1  # exponential backoff factor, full jitter, capped at 60 s
# A passed rollback drill meets the "rollback path ready" gate criterion for this long.
ROLLBACK_DRILL_DAYS = env_int("ROLLBACK_DRILL_DAYS", default=30)

# --- metric analysis (releases/analysis/; the README on PromQL triggers and stage analysis)
# The longest one question to an environment's Prometheus may take: a dead, hung or slow one
# is "no data" after this, never a pass.
PROMETHEUS_TIMEOUT_SECONDS = env_int("PROMETHEUS_TIMEOUT_SECONDS", default=5)
if not 1 <= PROMETHEUS_TIMEOUT_SECONDS <= 60:
    raise ImproperlyConfigured("PROMETHEUS_TIMEOUT_SECONDS must be between 1 and 60")

# --- alerts and incidents (incidents/services/alerts/; the README on the alert intake) --
# One post to the alert intake: more alerts or bytes are refused whole with a 413 (set
# Alertmanager's max_alerts to at most ALERT_PAYLOAD_MAX_ALERTS: it then truncates instead).
ALERT_PAYLOAD_MAX_ALERTS = env_int("ALERT_PAYLOAD_MAX_ALERTS", default=500)
ALERT_PAYLOAD_MAX_BYTES = env_int("ALERT_PAYLOAD_MAX_BYTES", default=1_048_576)
# New incidents one alert token may declare a minute; beyond, its alerts join one "storm"
# incident and the system's owners are told. 0: no bound.
ALERT_NEW_INCIDENTS_PER_MINUTE = env_int("ALERT_NEW_INCIDENTS_PER_MINUTE", default=20)
if ALERT_PAYLOAD_MAX_ALERTS < 1 or ALERT_PAYLOAD_MAX_BYTES < 1:
    raise ImproperlyConfigured(
        "ALERT_PAYLOAD_MAX_ALERTS and ALERT_PAYLOAD_MAX_BYTES must be 1 or more"
    )
if ALERT_NEW_INCIDENTS_PER_MINUTE < 0:
    raise ImproperlyConfigured("ALERT_NEW_INCIDENTS_PER_MINUTE must be 0 (no bound) or more")

# One delivery of MLflow's webhook (releases/api/intake.py): larger is refused with a 413
# before it is read. MLflow's are a few hundred bytes; tags and descriptions can add kBs.
INTAKE_PAYLOAD_MAX_BYTES = env_int("INTAKE_PAYLOAD_MAX_BYTES", default=262_144)
if INTAKE_PAYLOAD_MAX_BYTES < 1:
    raise ImproperlyConfigured("INTAKE_PAYLOAD_MAX_BYTES must be 1 or more")

# --- evidence packs --------------------------------------------------------------------
# The Ed25519 private key (PKCS#8 PEM: `openssl genpkey -algorithm ed25519`) that signs each
# evidence pack's manifest; EVIDENCE_SIGNING_KEY_FILE for Docker and Kubernetes secrets.
# Unset: packs are not exported (they cannot be signed). `make run` keeps one under .data/.
EVIDENCE_SIGNING_KEY = env_secret("EVIDENCE_SIGNING_KEY", default="")
# Audit checkpoints are signed with this Ed25519 key (same form), else with the evidence key;
# with neither they are written unsigned and `verify_audit` says so (governance/audit/signing.py).
AUDIT_CHECKPOINT_KEY = env_secret("AUDIT_CHECKPOINT_KEY", default="")
# A file each signed checkpoint is also appended to, one JSON line, fsync'd: put it on
# append-only storage, out of the database's reach. Empty: none.
AUDIT_CHECKPOINT_SINK = os.environ.get("AUDIT_CHECKPOINT_SINK", "")
# A model-version import still pending this long after its last change is sent again (its
# task retries for about five minutes before that).
IMPORT_REQUEUE_SECONDS = env_int("IMPORT_REQUEUE_SECONDS", default=360)

# --- rollback notifications: Slack, and where links point (releases/notifications.py) ------
# Links in emails and Slack messages start here: the address people open Failsafe at.
SITE_URL = (os.environ.get("SITE_URL") or "http://127.0.0.1:8000").rstrip("/")
# A Slack incoming webhook (or anything that takes its JSON); empty: no Slack messages. It
# lets anyone who has it post, so it is a secret (ROLLBACK_SLACK_WEBHOOK_URL_FILE).
ROLLBACK_SLACK_WEBHOOK_URL = env_secret("ROLLBACK_SLACK_WEBHOOK_URL", default="")
_web = ("https://", "http://")
if not SITE_URL.startswith(_web):
    raise ImproperlyConfigured("SITE_URL must be an http:// or https:// URL")
if ROLLBACK_SLACK_WEBHOOK_URL and not ROLLBACK_SLACK_WEBHOOK_URL.startswith(_web):
    raise ImproperlyConfigured("ROLLBACK_SLACK_WEBHOOK_URL must be an http:// or https:// URL")
# Workers that take this queue send the notices; a slow mail server never holds up rollbacks
# when ROLLBACK_QUEUE has workers of its own.
ROLLBACK_NOTIFY_QUEUE = os.environ.get("ROLLBACK_NOTIFY_QUEUE", "celery")
# Every notice waits this long in the worker before it is sent: a rollback's first
# milliseconds (its evidence, then the backend call) have the workers' CPU to themselves. The
# same wait for every step keeps the notices in order.
ROLLBACK_NOTICE_DELAY_SECONDS = 0.25
# How long the link in a proposal's notice opens its confirmation (rollbacks.decision_links).
ROLLBACK_DECISION_LINK_MINUTES = env_int("ROLLBACK_DECISION_LINK_MINUTES", default=60)

# --- paging: PagerDuty's Events API v2 (incidents/paging.py) ----------------------------
# The endpoint (PagerDuty's EU service region: https://events.eu.pagerduty.com/v2/enqueue).
PAGERDUTY_EVENTS_URL = os.environ.get(
    "PAGERDUTY_EVENTS_URL", "https://events.pagerduty.com/v2/enqueue"
)
if not PAGERDUTY_EVENTS_URL.startswith(_web):
    raise ImproperlyConfigured("PAGERDUTY_EVENTS_URL must be an http:// or https:// URL")
PAGERDUTY_TIMEOUT_SECONDS = env_int("PAGERDUTY_TIMEOUT_SECONDS", default=5)
# The severities whose incidents page, comma-separated.
PAGE_SEVERITIES = frozenset(
    s.strip() for s in os.environ.get("PAGE_SEVERITIES", "sev1,sev2").split(",") if s.strip()
)
if not {"sev1", "sev2", "sev3", "sev4"} >= PAGE_SEVERITIES:
    raise ImproperlyConfigured("PAGE_SEVERITIES lists severities among sev1, sev2, sev3, sev4")

# --- chat: incident messages in Slack, with their buttons (incidents/slack/) ---------------
# Slack's Web API (slack_sdk's WebClient base_url); each system's bot token and channel are
# set on its form. The signing secret of the Slack app proves an interactive request came
# from Slack (SLACK_SIGNING_SECRET_FILE); empty: the interactivity endpoint refuses all.
SLACK_API_URL = os.environ.get("SLACK_API_URL", "https://slack.com/api/")
if not SLACK_API_URL.startswith(_web) or not SLACK_API_URL.endswith("/"):
    raise ImproperlyConfigured("SLACK_API_URL must be an http:// or https:// URL ending in /")
SLACK_SIGNING_SECRET = env_secret("SLACK_SIGNING_SECRET", default="")
SLACK_TIMEOUT_SECONDS = env_int("SLACK_TIMEOUT_SECONDS", default=5)
