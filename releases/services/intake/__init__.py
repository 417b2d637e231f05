"""Registry intake: webhook secrets (secrets), followed models (follows), deliveries (deliveries)
and imports (imports).

Owners (Action.CHANGE) create and revoke a system's webhook secrets and choose the MLflow
registered models it follows. A signed delivery about a followed model is recorded once
(`receive_delivery`); a new model version is imported once (`import_model_version`, run by
a Celery task after commit) as a draft release with the run's metrics as gate checks.

Who acts: the secrets and follows are changed by a person; deliveries and imports by the
machine, on the word of a verified signature and of the follow an owner set up. Their
audit events have no actor (the trail says "system") and name the credential: the webhook
secret that signed the delivery ("MLflow webhook secret fsw_ab12cd… registry"), or the
import ("MLflow intake fraud-gbm v3"), as alert-driven incidents name their alert token."""

from releases.services.intake.deliveries import (
    DeliveryRefused,
    receive_delivery,
    sweep_imports,
)
from releases.services.intake.follows import (
    MAPPABLE_CRITERIA,
    clean_metric_criteria,
    follow_model,
    unfollow_model,
    update_follow,
)
from releases.services.intake.imports import (
    ImportRefused,
    fail_import,
    import_model_version,
)
from releases.services.intake.secrets import (
    SECRET_NAME,
    create_webhook_secret,
    revoke_webhook_secret,
)

__all__ = [
    "MAPPABLE_CRITERIA",
    "SECRET_NAME",
    "DeliveryRefused",
    "ImportRefused",
    "clean_metric_criteria",
    "create_webhook_secret",
    "fail_import",
    "follow_model",
    "import_model_version",
    "receive_delivery",
    "revoke_webhook_secret",
    "sweep_imports",
    "unfollow_model",
    "update_follow",
]
