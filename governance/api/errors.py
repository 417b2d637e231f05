"""API errors are JSON with field messages, whatever raised them (DRF or a service), and
input that cannot be used is a 4xx, never a 500 (config/errors.py says what counts)."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import refused_input, too_large_detail

logger = logging.getLogger("failsafe.input")


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The body is too large."
    default_code = "too_large"


class UnusableInput(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The input could not be used."
    default_code = "invalid"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail=detail)
    elif isinstance(exc, RequestDataTooBig):  # Django, reading the body for the parser
        exc = PayloadTooLarge(too_large_detail())
    elif isinstance(exc, SuspiciousOperation):  # too many fields, a malformed multipart
        exc = exceptions.ParseError(str(exc) or None)
    elif (reason := refused_input(exc)) is not None:
        request = context.get("request")
        logger.warning("Refused input: %s", getattr(request, "path", "?"), exc_info=exc)
        exc = UnusableInput(reason)
    return drf_exception_handler(exc, context)
