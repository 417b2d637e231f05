"""factory_boy factories: people (people.py), and states of releases (releases.py) and of
incidents (incidents.py).

The state factories build through the services, never the models: the services enforce the
rules and write the audit events, so a factory leaves exactly what the same service calls
made by hand would leave. They only create (`Factory()`, `Factory.create()`); there is no
unsaved `build` of a state.
"""

from tests.factories.incidents import OpenIncidentFactory
from tests.factories.people import PASSWORD, UserFactory
from tests.factories.releases import (
    ApprovedReleaseFactory,
    DraftReleaseFactory,
    LiveDeploymentFactory,
    ReadyReleaseFactory,
    SubmittedReleaseFactory,
)

__all__ = [
    "PASSWORD",
    "ApprovedReleaseFactory",
    "DraftReleaseFactory",
    "LiveDeploymentFactory",
    "OpenIncidentFactory",
    "ReadyReleaseFactory",
    "SubmittedReleaseFactory",
    "UserFactory",
]
