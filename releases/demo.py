"""Demo releases for `make run`: a live release, a candidate in guarded rollout, one waiting
for its second approval, a draft, and some history. Built through the services."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from governance.models import AISystem
from releases import services
from releases.models import Deployment, Environment, GateCriterion, Release

EVIDENCE = "https://wiki.example.com/ml/{system}/{version}/{criterion}"


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def _stack(system: str, model: str, version: str, layers: dict[str, str]) -> list[dict[str, str]]:
    uris = {
        "model": f"models:/{model}/{layers['model']}",
        "fusion": f"s3://ml-artifacts/{system}/fusion/{layers['fusion']}.yaml",
        "threshold_policy": f"s3://ml-artifacts/{system}/thresholds/{layers['threshold_policy']}.json",
        "sdk": f"pypi://{system}-sdk/{layers['sdk']}",
        "dataset": f"s3://ml-datasets/{system}/{layers['dataset']}/",
        "evaluation": f"s3://ml-eval/{system}/{version}/report.html",
    }
    return [
        {
            "kind": kind,
            "version": layers.get(kind, version),
            "uri": uri,
            "digest": _digest(system, kind, layers.get(kind, version)),
        }
        for kind, uri in uris.items()
    ]


def _card(what: str, why: str, risks: str) -> dict[str, str]:
    return {
        "what_changed": what,
        "why": why,
        "data_used": "Production traffic sample and labelled outcomes of the previous quarter.",
        "channels_tested": "Web, mobile app; EU and UK markets.",
        "expected_benefits": "Fewer missed cases at the same review workload.",
        "known_risks": risks,
        "rollback_trigger": "Review rate above 2.5 % or p95 latency above 300 ms for 5 minutes.",
    }


def _gate(release: Release, actor: Any, *, failing: tuple[str, ...] = ()) -> None:
    numeric = {
        GateCriterion.BENCHMARK: ("gte", Decimal("0.712"), Decimal("0.700"), "AUC-PR"),
        GateCriterion.LATENCY: ("lte", Decimal("212"), Decimal("300"), "ms"),
    }
    for criterion in GateCriterion:
        if criterion in failing:
            continue
        uri = EVIDENCE.format(
            system=release.system.slug, version=release.version, criterion=criterion.value
        )
        if criterion in numeric:
            comparison, measured, target, unit = numeric[criterion]
            services.record_gate_check(
                actor=actor,
                release=release,
                criterion=criterion,
                comparison=comparison,
                measured_value=measured,
                target=target,
                unit=unit,
                evidence_uri=uri,
            )
        else:
            services.record_gate_check(
                actor=actor,
                release=release,
                criterion=criterion,
                comparison="attested",
                attested_pass=True,
                evidence_uri=uri,
            )


def _plan(release: Release, users: dict[str, Any], production: Environment) -> None:
    services.save_rollback_plan(
        actor=users["alice"],
        release=release,
        environment=production,
        owners=[users["rob"]],
        mode="auto_propose",
        cooldown_minutes=30,
        triggers=[
            {
                "metric": "p95_latency_ms",
                "comparison": "gt",
                "threshold": "300",
                "window_minutes": 5,
            },
            {
                "metric": "review_rate",
                "comparison": "gt",
                "threshold": "0.025",
                "window_minutes": 15,
            },
        ],
    )


def _release(
    system: AISystem,
    users: dict[str, Any],
    production: Environment,
    version: str,
    title: str,
    layers: dict[str, str],
    model: str,
    *,
    categories: list[str],
    what: str,
    why: str,
    risks: str,
    approvers: tuple[str, ...] = (),
    submit: bool = True,
) -> Release:
    release = services.create_release(
        actor=users["alice"],
        system=system,
        version=version,
        title=title,
        card=_card(what, why, risks),
        components=_stack(system.slug, model, version, layers),
        change_categories=categories,
    )
    if not submit:
        _gate(release, users["alice"], failing=(GateCriterion.CALIBRATION, GateCriterion.LATENCY))
        return release
    _gate(release, users["alice"])
    _plan(release, users, production)
    services.submit_release(actor=users["alice"], release=release)
    for approver in approvers:
        services.record_approval(
            actor=users[approver],
            release=release,
            decision="approve",
            comment="Gate evidence and segment analysis reviewed; rollback plan is sound.",
        )
    release.refresh_from_db()
    return release


def _go(
    release: Release,
    users: dict[str, Any],
    environment: Environment,
    stage: str,
    traffic: int,
    days_ago: float,
) -> None:
    step = services.promote_release(
        actor=users["ravi"],
        release=release,
        environment=environment,
        stage=stage,
        traffic_percent=traffic,
    )
    services.apply_rollout_step(step_id=step.pk)
    # Spread the history over the past weeks, as if it had happened then.
    when = timezone.now() - timedelta(days=days_ago)
    Deployment.objects.filter(step=step).update(started_at=when)
    Deployment.objects.filter(environment=environment, ended_at__isnull=False).filter(
        ended_at__gte=when - timedelta(seconds=5)
    ).update(ended_at=when)


def load_release_demo(users: dict[str, Any], systems: dict[str, AISystem]) -> None:
    for slug, build in (
        ("fraud-screening", _fraud),
        ("support-assistant", _assistant),
        ("document-ocr", _ocr),
    ):
        system = systems[slug]
        if Release.objects.filter(system=system).exists():
            continue  # loaded before: `make run` keeps what is there
        staging = services.create_environment(
            actor=users["alice"],
            system=system,
            name="Staging",
            backend_config={"latency_ms": 300},
        )
        production = services.create_environment(
            actor=users["alice"],
            system=system,
            name="Production",
            is_production=True,
            backend_config={"latency_ms": 300},
        )
        build(system, users, staging, production)


def _fraud(
    system: AISystem, users: dict[str, Any], staging: Environment, production: Environment
) -> None:
    base = {
        "model": "11",
        "fusion": "ensemble-v3",
        "threshold_policy": "review-0.82",
        "sdk": "5.1.0",
        "dataset": "payments-2026q1",
    }
    old = _release(
        system,
        users,
        production,
        "1.8.0",
        "Velocity features",
        base,
        "fraud-gbm",
        categories=["major_dataset_refresh"],
        approvers=("ravi", "rita"),
        what="Retrained on Q1 payments with card-velocity features.",
        why="Card-testing attacks moved to small amounts.",
        risks="More reviews for first-time buyers.",
    )
    _go(old, users, production, "general_release", 100, days_ago=61)
    live_layers = {**base, "model": "12", "dataset": "payments-2026q2"}
    live = _release(
        system,
        users,
        production,
        "1.9.0",
        "Q2 retrain",
        live_layers,
        "fraud-gbm",
        categories=["major_dataset_refresh"],
        approvers=("ravi", "rita"),
        what="Same architecture retrained on Q2 data.",
        why="Quarterly refresh; drift in merchant mix.",
        risks="None new; calibration re-checked.",
    )
    _go(live, users, staging, "general_release", 100, days_ago=24)
    _go(live, users, production, "general_release", 100, days_ago=21)
    candidate_layers = {
        **live_layers,
        "model": "13",
        "fusion": "ensemble-v4",
        "threshold_policy": "review-0.85",
        "dataset": "payments-2026q3",
    }
    candidate = _release(
        system,
        users,
        production,
        "2.0.0",
        "Graph features and new fusion",
        candidate_layers,
        "fraud-gbm",
        categories=["new_fusion_logic", "threshold_policy_update", "major_dataset_refresh"],
        approvers=("ravi", "rita"),
        what="Adds merchant-graph features; fusion now weights the device model; review "
        "threshold raised from 0.82 to 0.85.",
        why="Recall on account-takeover fraud is 6 points below target.",
        risks="Threshold change shifts review volume; graph features are sparse for new merchants.",
    )
    _go(candidate, users, staging, "internal_testing", 100, days_ago=3)
    _go(candidate, users, production, "shadow", 10, days_ago=1)
    waiting_layers = {**candidate_layers, "sdk": "6.0.0"}
    _release(
        system,
        users,
        production,
        "2.1.0",
        "SDK 6 with async scoring",
        waiting_layers,
        "fraud-gbm",
        categories=["sdk_major_change"],
        approvers=("ravi",),
        what="Scoring SDK moves to 6.0 (async client, new retry policy).",
        why="Tail latency under burst load.",
        risks="Clients on SDK 5 must upgrade; retry policy changes load shape.",
    )
    _release(
        system,
        users,
        production,
        "2.2.0",
        "Device fingerprint v2",
        candidate_layers,
        "fraud-gbm",
        categories=["new_architecture"],
        submit=False,
        what="Transformer over device events replaces the GBM device model.",
        why="Device spoofing evades the current features.",
        risks="Higher serving cost; not yet calibrated.",
    )


def _assistant(
    system: AISystem, users: dict[str, Any], staging: Environment, production: Environment
) -> None:
    layers = {
        "model": "7",
        "fusion": "rag-v2",
        "threshold_policy": "safety-2026-05",
        "sdk": "2.3.0",
        "dataset": "helpcentre-2026-06",
    }
    live = _release(
        system,
        users,
        production,
        "3.4.0",
        "Retrieval over the new help centre",
        layers,
        "support-llm",
        categories=["major_dataset_refresh"],
        approvers=("ravi",),
        what="Index rebuilt on the migrated help centre.",
        why="Answers cited retired articles.",
        risks="Recall on legacy products may drop.",
    )
    _go(live, users, production, "general_release", 100, days_ago=14)
    rejected = _release(
        system,
        users,
        production,
        "3.5.0",
        "Longer context",
        {**layers, "model": "8"},
        "support-llm",
        categories=["new_architecture"],
        what="Moves to the 128k-context model.",
        why="Long ticket threads.",
        risks="Cost x3; new refusal behaviour.",
    )
    services.record_approval(
        actor=users["rita"],
        release=rejected,
        decision="reject",
        comment="Refusal rate doubled on billing questions in the evaluation; not shippable.",
    )


def _ocr(
    system: AISystem, users: dict[str, Any], staging: Environment, production: Environment
) -> None:
    layers = {
        "model": "3",
        "fusion": "none",
        "threshold_policy": "confidence-0.9",
        "sdk": "1.2.0",
        "dataset": "invoices-2026",
    }
    live = _release(
        system,
        users,
        production,
        "1.0.0",
        "First production model",
        layers,
        "invoice-ocr",
        categories=["new_architecture"],
        approvers=("ravi",),
        what="First release.",
        why="Manual keying of invoices.",
        risks="Handwritten invoices fall back to manual entry.",
    )
    _go(live, users, production, "general_release", 100, days_ago=40)
