"""The password sign-in forms, the login page's and the admin's, with the PASSWORD_LOGIN switch."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

PASSWORD_LOGIN_OFF = "password_login_off"


def refuse_if_password_login_off(user: Any) -> None:
    """Checked after the password matched, so the refusal tells nothing to a guesser."""
    if not settings.PASSWORD_LOGIN and not user.is_superuser:
        provider = settings.OIDC_PROVIDER_NAME if settings.OIDC_ENABLED else None
        raise ValidationError(
            "Password sign-in is turned off: only break-glass administrators use it. "
            + (f"Sign in with {provider} instead." if provider else "Ask an administrator."),
            code=PASSWORD_LOGIN_OFF,
        )


class PasswordSignInForm(AuthenticationForm):
    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        refuse_if_password_login_off(user)


class AdminPasswordSignInForm(AdminAuthenticationForm):
    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        refuse_if_password_login_off(user)
