"""Access before input: an API action is refused for who is asking before its input is read.

A view set names the permission each of its write actions needs (`required_actions`, with the
`AccessFirst` mixin); `HoldsTheRequiredAction`, one of the API's default permission classes,
asks it right after authentication, before the body, the query or the rest of the path is
parsed: on the object's system for an action on one object (404 first if the asker may not
see it), on at least one system for a create. So someone who may not act learns 403, never
whether their input would have been valid. The service the action calls then asks again,
with the body's details (which system, which kind of update).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from governance.http import api_actor
from governance.permissions import can, refusal, visible_systems
from governance.roles import Action

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from governance.models import AISystem


class AccessFirst:
    """A view set mixin (listed before the view set's bases): what each action needs, and
    the path's object read once per request (the access check and the action share it)."""

    # view action -> the permission it needs, or the permissions any one of which will do
    required_actions: ClassVar[Mapping[str, Action | tuple[Action, ...]]] = {}
    _object: Any = None

    def check_access(self, actor: User, needed: tuple[Action, ...]) -> None:
        if self.detail:  # type: ignore[attr-defined]
            system = self.system_of(self.get_object())
            if not any(can(actor, action, system) for action in needed):
                raise PermissionDenied(refusal(needed[0], system))
        elif not any(visible_systems(actor, action).exists() for action in needed):
            raise PermissionDenied(f"You may not {needed[0].label.lower()} on any system.")

    def system_of(self, obj: Any) -> AISystem:
        """The system an object of this view set belongs to."""
        return obj.system  # type: ignore[no-any-return]

    def get_object(self) -> Any:
        if self._object is None:
            self._object = self.read_object()
        return self._object

    def read_object(self) -> Any:
        return super().get_object()  # type: ignore[misc]


class HoldsTheRequiredAction(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        if not isinstance(view, AccessFirst):
            return True
        needed = view.required_actions.get(getattr(view, "action", None) or "")
        if needed is not None:
            view.check_access(
                api_actor(request), needed if isinstance(needed, tuple) else (needed,)
            )
        return True
