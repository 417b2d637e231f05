"""Demo data for `make run`: people, AI systems and roles. Safe to load again and again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction

from governance import services
from governance.models import AISystem, RiskCategory, RoleGrant
from governance.roles import Role

DEMO_PASSWORD = "failsafe-demo"

PEOPLE = [
    # username, first, last, what they do in the demo
    ("admin", "Ada", "Admin", "superuser"),
    ("alice", "Alice", "Moreau", "system owner, model owner"),
    ("ravi", "Ravi", "Shah", "release manager"),
    ("rita", "Rita", "Okafor", "release manager"),
    ("olga", "Olga", "Lindqvist", "on-call lead"),
    ("rob", "Rob", "Tanaka", "rollback owner"),
    ("rhea", "Rhea", "Nowak", "responder"),
    ("carl", "Carl", "Jensen", "compliance officer"),
    ("vic", "Vic", "Ferreira", "viewer"),
]

SYSTEMS = [
    {
        "slug": "fraud-screening",
        "name": "Card fraud screening",
        "risk_category": RiskCategory.HIGH,
        "intended_purpose": (
            "Scores card-not-present payments in real time and holds those above the risk "
            "threshold for review. Used by the payments platform in the EU and the UK."
        ),
    },
    {
        "slug": "support-assistant",
        "name": "Customer support assistant",
        "risk_category": RiskCategory.LIMITED,
        "intended_purpose": (
            "LLM assistant that drafts answers to customer tickets for human agents, with "
            "retrieval over the help centre. Customers are told they talk to an AI system."
        ),
    },
    {
        "slug": "document-ocr",
        "name": "Invoice OCR",
        "risk_category": RiskCategory.MINIMAL,
        "intended_purpose": "Extracts line items from supplier invoices for accounts payable.",
    },
]

ROLES = [
    ("ravi", Role.RELEASE_MANAGER),
    ("rita", Role.RELEASE_MANAGER),
    ("alice", Role.MODEL_OWNER),
    ("olga", Role.ONCALL_LEAD),
    ("rob", Role.ROLLBACK_OWNER),
    ("rhea", Role.RESPONDER),
    ("carl", Role.COMPLIANCE_OFFICER),
    ("vic", Role.VIEWER),
]


# Other apps add their demo data (releases, incidents …) in AppConfig.ready().
DemoStep = Callable[[dict[str, Any], dict[str, AISystem]], None]
_steps: list[DemoStep] = []


def register(step: DemoStep) -> None:
    if step not in _steps:
        _steps.append(step)


@transaction.atomic
def load_demo() -> list[tuple[str, str, str]]:
    """Create what is missing; return (username, what they do, password) for the banner."""
    User = get_user_model()
    users = {}
    for username, first, last, _ in PEOPLE:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "email": f"{username}@example.com"},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.is_staff = user.is_superuser = username == "admin"
            user.save()
        users[username] = user

    add_system = Permission.objects.get(
        codename="add_aisystem", content_type__app_label="governance"
    )
    users["alice"].user_permissions.add(add_system)

    systems = {}
    for spec in SYSTEMS:
        system = AISystem.objects.filter(slug=spec["slug"]).first()
        if system is None:
            system = services.create_system(
                actor=users["alice"],
                name=spec["name"],
                slug=spec["slug"],
                intended_purpose=spec["intended_purpose"],
                risk_category=spec["risk_category"],
            )
        for username, role in ROLES:
            if not RoleGrant.objects.filter(
                system=system, role=role, user=users[username]
            ).exists():
                services.grant_role(
                    actor=users["alice"], system=system, role=role, user=users[username]
                )
        systems[spec["slug"]] = system
    for step in _steps:
        step(users, systems)
    return [(username, what, DEMO_PASSWORD) for username, _, _, what in PEOPLE]
