"""The releases pages' forms, by page: the release and its review (release), the rollback plan
(plans), promotions (rollouts), a system's environments and gate policy (environments), the
registry intake (intake)."""

from releases.forms.environments import (
    EnvironmentForm,
    EnvironmentRollbackForm,
    GatePolicyForm,
    JSONObjectField,
)
from releases.forms.intake import (
    METRIC_RULES,
    ModelFollowForm,
    WebhookSecretForm,
    metric_lines,
)
from releases.forms.plans import (
    PROMQL_TRIGGERS_MAX,
    EnvironmentChoiceField,
    PeopleChoiceField,
    ReleaseChoiceField,
    RollbackPlanForm,
)
from releases.forms.release import (
    CARD_HELP,
    ApprovalForm,
    GateCheckForm,
    ReleaseForm,
)
from releases.forms.rollouts import (
    PromotionForm,
    RolloutControlForm,
)

__all__ = [
    "CARD_HELP",
    "METRIC_RULES",
    "PROMQL_TRIGGERS_MAX",
    "ApprovalForm",
    "EnvironmentChoiceField",
    "EnvironmentForm",
    "EnvironmentRollbackForm",
    "GateCheckForm",
    "GatePolicyForm",
    "JSONObjectField",
    "ModelFollowForm",
    "PeopleChoiceField",
    "PromotionForm",
    "ReleaseChoiceField",
    "ReleaseForm",
    "RollbackPlanForm",
    "RolloutControlForm",
    "WebhookSecretForm",
    "metric_lines",
]
