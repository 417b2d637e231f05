"""The AI-system inventory, role grants, API tokens and the tamper-evident audit chain."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from encrypted_fields.fields import EncryptedCharField

from governance.limits import NAME, PROSE, length_checks
from governance.roles import Action, Role


class RiskCategory(models.TextChoices):
    """EU AI Act risk categories: Art. 5 prohibited practices, Art. 6 high-risk systems,
    Art. 50 transparency obligations for certain AI systems, and the rest."""

    PROHIBITED = "prohibited", "Prohibited"
    HIGH = "high", "High risk"
    LIMITED = "limited", "Limited risk"
    MINIMAL = "minimal", "Minimal risk"


class OperatorRole(models.TextChoices):
    """The organisation's role for the system (Art. 3(3), (4)): which incident duty binds it."""

    PROVIDER = "provider", "Provider"
    DEPLOYER = "deployer", "Deployer"


class ReportingRegime(models.TextChoices):
    """Which law serious incidents of the system are reported under (Art. 73(9), (10))."""

    AI_ACT = "ai_act", "AI Act, Art. 73 in full"
    EQUIVALENT_SECTOR_LAW = "equivalent_sector_law", "Sector law with equivalent reporting"
    MEDICAL_DEVICES = "medical_devices", "Medical device or IVD (MDR, IVDR)"


class DriftSeverity(models.TextChoices):
    """The severity of the incident an ungoverned change declares (releases/drift/): by
    default from the risk tier, high or prohibited SEV1, limited SEV2, minimal SEV3."""

    BY_RISK = "", "By risk tier"
    SEV1 = "sev1", "SEV1 · critical"
    SEV2 = "sev2", "SEV2 · high"
    SEV3 = "sev3", "SEV3 · medium"
    SEV4 = "sev4", "SEV4 · low"


DRIFT_SEVERITY_BY_RISK = {
    RiskCategory.PROHIBITED: DriftSeverity.SEV1,
    RiskCategory.HIGH: DriftSeverity.SEV1,
    RiskCategory.LIMITED: DriftSeverity.SEV2,
    RiskCategory.MINIMAL: DriftSeverity.SEV3,
}


class AISystem(models.Model):
    """A product or use case in the inventory. Permissions are granted per system."""

    name = models.CharField(max_length=NAME, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    intended_purpose = models.TextField(
        max_length=PROSE, help_text="What the system decides, for whom, and where it is used."
    )
    risk_category = models.CharField(max_length=16, choices=RiskCategory.choices)
    operator_role = models.CharField(
        max_length=16, choices=OperatorRole.choices, default=OperatorRole.PROVIDER
    )
    reporting_regime = models.CharField(
        max_length=24, choices=ReportingRegime.choices, default=ReportingRegime.AI_ACT
    )
    # The severity of an ungoverned change's incident; blank: by the risk tier.
    drift_severity = models.CharField(
        max_length=8, choices=DriftSeverity.choices, blank=True, default=DriftSeverity.BY_RISK
    )
    # The integration key of the PagerDuty service its serious incidents page (Events API v2):
    # a secret, never shown again once set; blank, no paging.
    pagerduty_routing_key = EncryptedCharField(max_length=100, blank=True, null=True, default="")
    # The Slack app's bot token (xoxb-…) and the channel its incidents are posted to, with
    # ROLL BACK NOW on them (incidents.slack): the token a secret, never shown again.
    slack_bot_token = EncryptedCharField(max_length=255, blank=True, null=True, default="")
    slack_channel_id = models.CharField(max_length=32, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        verbose_name = "AI system"
        # view/change come with Django's defaults; the rest are the system's own actions.
        permissions = [(a.value, a.label) for a in Action if a not in (Action.VIEW, Action.CHANGE)]
        constraints = length_checks("aisystem", {"intended_purpose": PROSE})

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("governance:system-detail", kwargs={"slug": self.slug})

    @property
    def ungoverned_change_severity(self) -> str:
        """The severity of the incident an ungoverned change declares ("sev1" … "sev4")."""
        by_risk = DRIFT_SEVERITY_BY_RISK.get(self.risk_category, DriftSeverity.SEV2)  # type: ignore[call-overload]
        return str(self.drift_severity or by_risk)


class RoleGrant(models.Model):
    """Who holds which role on a system: a user, or every member of a group.

    The guardian object permissions are derived from these rows by
    `governance.services.grant_role` / `revoke_role`; never edit one without the other.
    """

    system = models.ForeignKey(AISystem, on_delete=models.CASCADE, related_name="role_grants")
    role = models.CharField(max_length=32, choices=Role.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="role_grants",
    )
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.CASCADE, related_name="role_grants"
    )
    granted_at = models.DateTimeField(auto_now_add=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["role", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, group__isnull=True)
                | Q(user__isnull=True, group__isnull=False),
                name="rolegrant_user_xor_group",
            ),
            models.UniqueConstraint(
                fields=["system", "role", "user"],
                condition=Q(user__isnull=False),
                name="rolegrant_unique_user_role",
            ),
            models.UniqueConstraint(
                fields=["system", "role", "group"],
                condition=Q(group__isnull=False),
                name="rolegrant_unique_group_role",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.principal_name} — {self.get_role_display()} on {self.system.name}"

    @property
    def principal_name(self) -> str:
        if self.user is not None:
            return self.user.get_username()
        return f"group {self.group.name}" if self.group is not None else "nobody"

    def audit_state(self) -> dict[str, str | None]:
        return {
            "role": self.role,
            "user": self.user.get_username() if self.user is not None else None,
            "group": self.group.name if self.group is not None else None,
        }


class ApiTokenStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


class ApiToken(models.Model):
    """A bearer token for the REST API (`Authorization: Bearer fsk_…`), scoped to one system.

    It acts as its owner, with the roles the owner holds on that system at the time of each
    request, and nothing else: a role taken back is a right the token loses at once, and
    other systems do not exist for it. Stored as a digest; the secret is shown once
    (governance.tokens). Created and revoked by `governance.services`.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    system = models.ForeignKey(AISystem, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=12)  # identifies the token in lists, reveals nothing
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)  # None: never
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="apitoken_owner_time"),
            models.Index(fields=["system", "-created_at"], name="apitoken_system_time"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def status_at(self, moment: datetime) -> ApiTokenStatus:
        if self.revoked_at is not None:
            return ApiTokenStatus.REVOKED
        if self.expires_at is not None and self.expires_at <= moment:
            return ApiTokenStatus.EXPIRED
        return ApiTokenStatus.ACTIVE

    @property
    def status(self) -> ApiTokenStatus:
        return self.status_at(timezone.now())

    def audit_state(self) -> dict[str, str | None]:
        """What the audit trail records: never the secret, nor its digest."""
        return {
            "name": self.name,
            "prefix": self.prefix,
            "owner": self.owner.get_username(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }


class IdentityLink(models.Model):
    """The identity provider's own name for a person (issuer and `sub`), tied to their account.

    A sign-in finds its account by this link, never by a username the provider may let people
    change: someone renamed to another's username at the provider does not become them here.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="identity_links"
    )
    issuer = models.CharField(max_length=500)
    subject = models.CharField(max_length=255)
    linked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="identity_link_unique"),
            models.UniqueConstraint(fields=["user", "issuer"], name="identity_link_one_per_issuer"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"


class AuditEvent(models.Model):
    """One state-changing action, hash-chained to the event before it in the same chain.

    Each AI system has its own chain (`system:<id>`), so systems append in parallel and
    an evidence pack can carry one system's whole, contiguous chain; events that belong
    to no system go to the `global` chain. An event is written unsealed (seq and hashes
    empty) in the service's transaction and sealed right after commit. A database trigger
    refuses DELETE, and every UPDATE but that one sealing of an unsealed row.
    """

    chain = models.CharField(max_length=40)
    seq = models.BigIntegerField(null=True, blank=True)
    system = models.ForeignKey(
        AISystem, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    occurred_at = models.DateTimeField()
    # No FK constraint: deleting a user must not try to rewrite history.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150)
    request_id = models.CharField(max_length=64, blank=True)
    # Empty for a signed-in session and for the workers; else what the actor signed in with
    # ("API token fsk_ab12… release-bot"), so a token's deeds are told from a person's.
    # A default in the table too: bulk loaders that name their columns (COPY) may leave it out.
    credential = models.CharField(max_length=120, blank=True, default="", db_default="")
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    # NULL, not "": an unsealed event has no place in its chain yet (the trigger relies on it).
    prev_hash = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    hash = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["chain", "seq"], name="auditevent_chain_seq"),
        ]
        indexes = [
            models.Index(fields=["system", "-occurred_at"], name="auditevent_system_time"),
            models.Index(fields=["object_type", "object_id"], name="auditevent_object"),
            models.Index(fields=["action"], name="auditevent_action"),
            models.Index(
                fields=["chain", "id"],
                condition=models.Q(seq__isnull=True),
                name="auditevent_unsealed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.chain}#{self.seq} {self.action}"


class AuditChainHead(models.Model):
    """The last sequence number and hash of each chain: the row appenders lock, one at a time."""

    chain = models.CharField(max_length=40, primary_key=True)
    seq = models.BigIntegerField(default=0)
    head_hash = models.CharField(max_length=64)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.chain} @ {self.seq}"


class AuditCheckpoint(models.Model):
    """A periodic, append-only record of every chain's head, itself hash-chained and signed.

    A checkpoint proves which events existed at that moment, so truncating the tail of
    a chain (which leaves the rest of it consistent) is still detected; its signature, by a
    key the database does not hold, proves it was not recomputed after a rewrite.
    """

    created_at = models.DateTimeField()
    heads = models.JSONField()  # {chain: [seq, hash]}
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    # Ed25519 over governance.audit.hashing.checkpoint_message, base64, by the key whose id
    # (sha256 of the raw public key, hex) is beside it; both empty on an unsigned checkpoint.
    signature = models.CharField(max_length=100, blank=True, default="")
    key_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"checkpoint {self.pk} at {self.created_at:%Y-%m-%d %H:%M}"
