"""Which URLs a field accepts, by kind, and which of them a page may render as a link.

Every URL-ish field names its kind here and gets the validator as a model field validator,
so `full_clean`, the forms built from the model and DRF's ModelSerializers all refuse the
same values; the hand-written forms and serializers add the same validator. A page links
only what `is_linkable` allows (the `web_link` filter); anything else stays text.

A URL Failsafe itself calls (`validate_web_url`, every URL of `validate_backend_config`) is
also refused when its host is an internal address the egress policy refuses
(governance/egress.py): an IP literal or a name such as localhost. Other names are judged
when the call connects, on what they resolve to then.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db.models import Model
from django.utils.deconstruct import deconstructible

from governance.egress import explanation, host_refusal

WEB = ("http", "https")
# Evidence lives on web pages (dashboards, reports, notebooks) or in object stores.
EVIDENCE = (*WEB, "s3", "gs")
# An artefact of the stack: a registry (MLflow's models:/ and runs:/), a bucket (S3, GCS,
# Azure, Databricks), a package index, an image registry, a Hugging Face repository, or a
# commit of a repository (a threshold policy or an SDK often lives in git).
ARTEFACT = (
    *WEB, "s3", "gs", "abfss", "dbfs", "models", "runs", "pypi", "docker", "oci", "hf", "git",
    "git+https", "git+ssh",
)  # fmt: skip

# Nothing a browser or a person could misread: no whitespace, no control characters.
_UNPRINTABLE = re.compile(r"[\s\x00-\x1f\x7f]")
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")


def _scheme(value: str) -> str | None:
    match = _SCHEME.match(value)
    return match.group(1).lower() if match else None


def _is_site_path(value: str) -> bool:
    """A path of this site: "/releases/4/", never "//host/" or "/\\host" (another site)."""
    return value.startswith("/") and not value.startswith(("//", "/\\"))


@deconstructible
class UriValidator:
    """Accepts a URI whose scheme is one of `schemes` (and, if `site_paths`, a path of this
    site). http(s) URIs need a host; every other scheme needs something after it. With
    `outbound` (a URL Failsafe calls), a host the egress policy refuses is refused."""

    def __init__(
        self, schemes: Iterable[str], *, site_paths: bool = False, outbound: bool = False
    ) -> None:
        self.schemes = tuple(schemes)
        self.site_paths = site_paths
        self.outbound = outbound

    def __call__(self, value: Any) -> None:
        text = str(value)
        if _UNPRINTABLE.search(text):
            raise ValidationError("A link has no spaces or control characters.", code="invalid")
        if self.site_paths and _is_site_path(text):
            return
        scheme = _scheme(text)
        if scheme is None or scheme not in self.schemes:
            raise ValidationError(
                "Use a link starting with %(allowed)s.",
                code="scheme",
                params={"allowed": self.describe()},
            )
        rest = text[len(scheme) + 1 :]
        host = urlsplit(text).hostname if scheme in WEB else None
        if scheme in WEB and not host:
            raise ValidationError("A web link needs a host: https://host/….", code="invalid")
        if not rest.strip("/"):
            raise ValidationError("The link names nothing after its scheme.", code="invalid")
        rule = host_refusal(host) if self.outbound and host else None
        if rule is not None:
            raise ValidationError(
                "%(host)s %(explanation)s.",
                code="internal_address",
                params={"host": host, "explanation": explanation(rule)},
            )

    def describe(self) -> str:
        starts = [f"{s}://" if s not in ("models", "runs") else f"{s}:/" for s in self.schemes]
        if self.site_paths:
            starts.append("/ (a page of this site)")
        return ", ".join(starts[:-1]) + " or " + starts[-1] if len(starts) > 1 else starts[0]

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, UriValidator)
            and self.schemes == other.schemes
            and self.site_paths == other.site_paths
            and self.outbound == other.outbound
        )

    def __hash__(self) -> int:
        return hash((self.schemes, self.site_paths, self.outbound))


# The URL of a peer Failsafe calls (a Prometheus, an MLflow tracking server).
validate_web_url = UriValidator(WEB, outbound=True)
validate_evidence_uri = UriValidator(EVIDENCE, site_paths=True)
validate_artefact_uri = UriValidator(ARTEFACT)


def validate_backend_config(value: Any) -> None:
    """Every `…url` / `…uri` key of an environment's backend_config is an http(s) URL on a
    host the egress policy allows (the backend calls it)."""
    if not isinstance(value, Mapping):
        return  # the field's own type check answers
    errors = []
    for key, item in value.items():
        if not str(key).lower().endswith(("url", "uri")):
            continue
        try:
            validate_web_url(item if isinstance(item, str) else "")
        except ValidationError as error:
            errors.append(f"{key}: {' '.join(error.messages)}")
    if errors:
        raise ValidationError(errors, code="scheme")


def check_value(model: type[Model], field: str, value: Any) -> None:
    """Run one model field's own validators (its max_length, its URL scheme) on a value a
    service is about to write, so a service refuses what the form and the API refuse;
    the error names the field."""
    try:
        model._meta.get_field(field).clean(value, None)  # type: ignore[union-attr]
    except ValidationError as error:
        raise ValidationError({field: error.messages}) from None


def is_linkable(value: Any) -> bool:
    """Whether a page may render the value as a link: http(s) with a host, or a site path."""
    text = str(value or "")
    if not text or _UNPRINTABLE.search(text):
        return False
    if _is_site_path(text):
        return True
    return _scheme(text) in WEB and bool(urlsplit(text).hostname)
