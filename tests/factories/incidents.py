"""Incidents, declared through incidents.services."""

from __future__ import annotations

from typing import Any

import factory

from governance.roles import Role
from incidents import services
from incidents.models import Incident
from tests.factories.base import ServiceFactory, fraud, holder, production_of


class OpenIncidentFactory(ServiceFactory):
    """An incident just declared (declare_incident): open, detected. By default the
    `incident` fixture's: declared by the on-call lead of `fraud` in its production, "Review
    rate tripled", SEV2, performance. `actor=None` is monitoring declaring it; any other
    argument of declare_incident (source, summary, detected_at …) is passed on."""

    class Meta:
        model = Incident

    system = factory.LazyFunction(fraud)
    actor = factory.LazyAttribute(lambda o: holder(o.system, Role.ONCALL_LEAD))
    environment = factory.LazyAttribute(lambda o: production_of(o.system))
    title = "Review rate tripled"
    severity = "sev2"
    category = "performance"

    @classmethod
    def _create(cls, model_class: type, **fields: Any) -> Incident:
        return services.declare_incident(**fields)
