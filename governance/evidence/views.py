"""The evidence pages: the hub of a system's auditor's questions, each question, and the
coverage of the control mapping. Thin: the answers come from the apps through
`governance.evidence.questions`; reading them needs the audit-reading right."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from governance.evidence import controls
from governance.evidence import questions as registry
from governance.evidence.pack import sections as pack_sections
from governance.evidence.pack.formats import dumps
from governance.evidence.pack.period import PackPeriod
from governance.http import AuthenticatedHttpRequest
from governance.models import AISystem
from governance.permissions import allowed_actions, get_system_or_404
from governance.roles import Action

READ = Action.VIEW_AUDIT  # who may read the answers: owners, release managers, leads, compliance


def _errors(error: ValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {field: list(messages) for field, messages in error.message_dict.items()}
    return {"__all__": list(error.messages)}


def _pickers(system: AISystem, inputs: set[str]) -> dict[str, Any]:
    context: dict[str, Any] = {}
    if registry.ENVIRONMENT_AT in inputs:
        context["environment_choices"] = registry.pick("environment", system)
    if registry.RELEASE in inputs:
        context["release_choices"] = registry.pick("release", system)
    return context


def _default_period(now: datetime) -> tuple[datetime, datetime]:
    return now - timedelta(days=registry.DEFAULT_PERIOD_DAYS), now


def _form_values(request: AuthenticatedHttpRequest) -> dict[str, str]:
    """What the person typed, to put back in the form (also after an error)."""
    return {
        name: request.GET.get(name, "").strip()
        for name in ("environment", "at", "release", "start", "end")
    }


@require_GET
def evidence_hub(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    system = get_system_or_404(request.user, slug, READ)
    all_questions = registry.questions()
    inputs = {name for q in all_questions for name in q.inputs}
    now = timezone.now()
    start, end = _default_period(now)
    rows = controls.coverage(system, start, end)
    context = {
        "system": system,
        "actions": allowed_actions(request.user, system),
        "questions": all_questions,
        "coverage": controls.summary(rows),
        "coverage_total": len(rows),
        "period_start": start,
        "period_end": end,
        "now": now,
        **_pickers(system, inputs),
    }
    return render(request, "governance/evidence/hub.html", context)


@require_GET
def question_page(request: AuthenticatedHttpRequest, slug: str, key: str) -> HttpResponse:
    system = get_system_or_404(request.user, slug, READ)
    question = registry.get_question(key)
    if question is None:
        raise Http404("No such question.")
    status, errors, answer = 200, {}, None
    try:
        params = registry.parse_params(request.GET, question.inputs)
        answer = question.answer(system, params)
    except ValidationError as error:
        status, errors = 400, _errors(error)
    context = {
        "system": system,
        "actions": allowed_actions(request.user, system),
        "question": question,
        "questions": registry.questions(),
        "answer": answer,
        "errors": errors,
        "values": _form_values(request),
        "answer_template": question.template,
        **_pickers(system, set(question.inputs)),
    }
    if request.htmx and request.htmx.target == "answer":
        return render(request, "governance/evidence/_answer.html", context, status=status)
    return render(request, "governance/evidence/question.html", context, status=status)


@require_GET
def coverage_page(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    system = get_system_or_404(request.user, slug, READ)
    status, errors, rows = 200, {}, []
    try:
        start, end = registry.period_of(registry.parse_params(request.GET, (registry.PERIOD,)))
        rows = controls.coverage(system, start, end)
    except ValidationError as error:
        status, errors = 400, _errors(error)
        start, end = _default_period(timezone.now())
    mapping = controls.load()
    by_framework = [
        (framework, [row for row in rows if row.control.framework == framework])
        for framework in mapping.frameworks
    ]
    framework = request.GET.get("framework", "")
    if framework:
        by_framework = [(f, r) for f, r in by_framework if f.key == framework] or by_framework
    context = {
        "system": system,
        "actions": allowed_actions(request.user, system),
        "questions": registry.questions(),
        "frameworks": mapping.frameworks,
        "by_framework": by_framework,
        "framework": framework,
        "summary": controls.summary(rows),
        "total": len(rows),
        "errors": errors,
        "values": _form_values(request),
        "form_start": request.GET.get("start", "").strip() or start.date().isoformat(),
        "period_start": start,
        "period_end": end,
        "statuses": controls.Status.LABELS,
    }
    return render(request, "governance/evidence/coverage.html", context, status=status)


def _document(request: AuthenticatedHttpRequest, slug: str, name: str) -> tuple[Any, ...]:
    """A document the apps registered for the pack, generated now over the last 90 days."""
    system = get_system_or_404(request.user, slug, READ)
    document = next((d for d in pack_sections.documents() if d.name == name), None)
    if document is None:
        raise Http404("No such document.")
    today = timezone.now().date()
    period = PackPeriod(today - timedelta(days=registry.DEFAULT_PERIOD_DAYS - 1), today)
    return system, document, period, document.build(system, period)


@require_GET
def document_page(request: AuthenticatedHttpRequest, slug: str, name: str) -> HttpResponse:
    system, document, period, content = _document(request, slug, name)
    context = {
        "system": system,
        "actions": allowed_actions(request.user, system),
        "questions": registry.questions(),
        "document": document,
        "blocks": document.blocks(content),
        "period": period,
    }
    return render(request, "governance/evidence/document.html", context)


@require_GET
def document_json(request: AuthenticatedHttpRequest, slug: str, name: str) -> HttpResponse:
    system, document, _period, content = _document(request, slug, name)
    response = HttpResponse(dumps(content, indent=2) + "\n", content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{system.slug}-{document.name}.json"'
    return response
