"""Every state change of the inventory (systems), its roles (roles) and API tokens
(api_tokens). Views, the API and the admin call these.

Each service checks the permission, changes state, and appends the audit event, all in
one transaction; the audit append comes last so the chain lock is held only briefly.
"""

from governance.services.api_tokens import (
    API_TOKEN_EXPIRY_DAYS,
    API_TOKEN_NAME_LENGTH,
    ApiTokenRefused,
    authenticate_api_token,
    create_api_token,
    revoke_api_token,
)
from governance.services.roles import (
    grant_role,
    revoke_role,
)
from governance.services.systems import (
    SYSTEM_FIELDS,
    check_may_register_system,
    create_system,
    update_system,
)

__all__ = [
    "API_TOKEN_EXPIRY_DAYS",
    "API_TOKEN_NAME_LENGTH",
    "SYSTEM_FIELDS",
    "ApiTokenRefused",
    "authenticate_api_token",
    "check_may_register_system",
    "create_api_token",
    "create_system",
    "grant_role",
    "revoke_api_token",
    "revoke_role",
    "update_system",
]
