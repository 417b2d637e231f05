"""Failsafe settings. Every value comes from the environment; defaults are the safe ones.

DEBUG is off unless the caller turns it on (`make run` too serves with it off).
"""

from __future__ import annotations

import os
import zoneinfo
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_rate, env_secret, redis_url
from governance.egress import parse_networks  # the standard library only

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = env_secret("SECRET_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_prometheus",
    "guardian",
    "axes",
    "csp",
    "governance",
    "releases",
    "incidents",
]

MIDDLEWARE = [
    # First and last: request metrics (/metrics) time the whole stack between them.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "governance.middleware.RequestIdMiddleware",
    "governance.middleware.LoginRequiredMiddleware",
    # After it: a NUL in a page's form is the 400 page, and so is an error from input.
    "config.errors.RefuseUnusableInput",
    # Last: it turns a request axes marked as locked out into the lockout page.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "governance.navigation.navigation",
            ],
            "builtins": ["governance.templatetags.failsafe"],
        },
    },
]

# Keys for encrypted fields derive from SECRET_KEY (and SECRET_KEY_FALLBACKS) with these salts.
SALT_KEY = env_list("FIELD_ENCRYPTION_SALTS", default=["failsafe-field-encryption-v1"])
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", default=[])

# --- database and broker -------------------------------------------------------------
# DATABASE_URL or DATABASE_URL_FILE; `make run` and `make test` set it for the embedded one.
DATABASES = {"default": environ.Env.db_url_config(env_secret("DATABASE_URL"))}
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if env_bool("DB_POOL", default=True):
    # Each process keeps its own pool (psycopg_pool) of at most DB_POOL_MAX_SIZE connections:
    # however many threads a burst wakes, a process never opens more, so the processes of a
    # deployment together stay below PostgreSQL's max_connections (README: Configuration).
    # A request that waits DB_POOL_TIMEOUT seconds for a connection gets 503 with Retry-After
    # (config/errors.py). Connections are kept by the pool, not by Django: CONN_MAX_AGE 0.
    _pool = {
        "min_size": env_int("DB_POOL_MIN_SIZE", default=2),
        "max_size": env_int("DB_POOL_MAX_SIZE", default=8),
        "timeout": env_int("DB_POOL_TIMEOUT", default=5),
    }
    if not 0 <= _pool["min_size"] <= _pool["max_size"] or _pool["max_size"] < 1:
        raise ImproperlyConfigured("DB_POOL_MIN_SIZE must be between 0 and DB_POOL_MAX_SIZE (>= 1)")
    if _pool["timeout"] < 1:
        raise ImproperlyConfigured("DB_POOL_TIMEOUT must be at least 1 second")
    if env_int("DB_CONN_MAX_AGE", default=0):
        raise ImproperlyConfigured("DB_CONN_MAX_AGE applies only with DB_POOL=false")
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = _pool
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", default=60)
if env_bool("DB_PREPARED_STATEMENTS", default=True):
    # Parameters bound by the server, so a statement a connection runs again (the same ORM
    # query with other values) is prepared after its fifth run: PostgreSQL stops parsing and
    # planning it each time, which halves the database's CPU on the rollback path (measured).
    # The pool hands out the same connections again, with the statements they prepared.
    # Off behind a pooler that cannot keep prepared statements (PgBouncer in transaction
    # mode before 1.21, or without max_prepared_statements).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=5
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Celery: the broker, the beat schedule, beat in pairs (config/celery_settings.py).
from config.celery_settings import *  # noqa: E402, F403

# Failsafe's own: the rollback engine, drift, metric analysis, intakes, evidence, notices.
from config.failsafe_settings import *  # noqa: E402, F403
from config.sso_settings import *  # noqa: E402, F403

# --- authentication and permissions --------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out username+address before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
    # Answers only the identity provider's callback (a code and a state), never a password.
    "governance.sso.backend.IdentityProviderBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: nobody unauthenticated holds object permissions
GUARDIAN_RAISE_403 = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- security: safe unless DEBUG ------------------------------------------------------
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
# Lax: a link from elsewhere still arrives signed in, a cross-site POST never carries the
# cookies. The CSRF cookie stays readable by scripts (Django's default): the API docs' "try
# it out" sends it as a header, and HttpOnly would protect nothing the token does not.
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# No inline scripts, styles or event handlers anywhere: pages load static/js and static/css
# only, so an injected <script> or style="" never runs. data: images are for the API docs'
# icons. No EXCLUDE_URL_PREFIXES: the admin and the API docs (the split Swagger view, whose
# init script is a file) live under the same policy; the docs alone also take inline <style>
# elements, which Swagger UI adds (config/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
if OIDC_ENABLED:  # noqa: F405
    # Sign-out posts to /logout/, which redirects to the provider's end_session_endpoint, and
    # form-action also governs where a form submission's redirects may go.
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"].append(origin(OIDC_ISSUER))  # noqa: F405
# Probes and scrapes come over the internal network, by HTTP (see governance/metrics.py).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^statusz$", r"^metrics$"]
if env_bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- outbound calls to URLs system owners set (governance/egress.py) -------------------
# Backends, MLflow, Prometheus and Slack are never called on a non-public address (loopback,
# link-local, private, CGNAT, …) unless its network is listed here: comma-separated CIDRs,
# e.g. 10.20.0.0/16,fd00:1::/64. Empty by default.
try:
    BACKEND_ALLOWED_NETWORKS = parse_networks(os.environ.get("BACKEND_ALLOWED_NETWORKS", ""))
except ValueError as error:
    raise ImproperlyConfigured(f"BACKEND_ALLOWED_NETWORKS: {error}") from None

# --- sign-in lockout (django-axes) ----------------------------------------------------
# LOGIN_FAILURE_LIMIT wrong passwords for one username from one address lock that pair out
# for LOGIN_LOCKOUT_MINUTES, on the login form, the admin's and the API's Basic auth alike.
# Per pair, not per address: colleagues behind one NAT are not locked out by one typist.
# Admins unlock in the admin (Axes > Access attempts) or `manage.py axes_reset_username`.
AXES_ENABLED = env_bool("LOGIN_LOCKOUT_ENABLED", default=True)
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "governance.lockout.lockout_response"
AXES_WHITELIST_CALLABLE = "governance.lockout.password_attempts_only"
# Behind reverse proxies, the address is the one they forwarded (governance/lockout.py).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "governance.lockout.client_address"

# --- i18n, static ----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# The organisation's time zone: the EU AI Act's reporting deadlines are counted in its days
# (incidents/art73.py), shown beside UTC, and a time typed without a zone is read in it.
ORGANISATION_TIME_ZONE = os.environ.get("ORGANISATION_TIME_ZONE", "UTC")
try:
    zoneinfo.ZoneInfo(ORGANISATION_TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(
        f"ORGANISATION_TIME_ZONE {ORGANISATION_TIME_ZONE!r} is no IANA time zone "
        "(e.g. Europe/Brussels)"
    ) from None
# Art. 73(1) binds providers of high-risk systems: classifying an incident of another system
# as serious is refused (true) or runs the clock with a warning (false, the default).
SERIOUS_INCIDENTS_HIGH_RISK_ONLY = env_bool("SERIOUS_INCIDENTS_HIGH_RISK_ONLY", default=False)
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- caches --------------------------------------------------------------------------------
# Pages are cached under a version of what they show (governance/pagecache.py): entries are
# never stale, so each process keeping its own is correct and costs no network round trip.
PAGE_CACHE_SECONDS = env_int("PAGE_CACHE_SECONDS", default=600)
_cache_url = env_secret("CACHE_URL", default="") or CELERY_REDBEAT_REDIS_URL  # noqa: F405
if not _cache_url:
    raise ImproperlyConfigured(
        "CACHE_URL (or CACHE_URL_FILE) must be set to a Redis URL: the API's rate limits and "
        "beat's lock are kept in Redis, and CELERY_BROKER_URL is not a Redis one"
    )
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "pages": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "pages",
        "OPTIONS": {"MAX_ENTRIES": env_int("PAGE_CACHE_ENTRIES", default=500)},
    },
    # Rate limits are counted across every web process and replica, so in Redis: CACHE_URL
    # (or CACHE_URL_FILE: it may hold a password), by default the broker's Redis when the
    # broker is one. Keys are prefixed and expire by themselves; never clear() this cache,
    # which may share a database with the broker's queues. A Redis that is down or slow
    # lifts the limits, never refuses a request (governance/api/throttling.py).
    "throttle": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": redis_url("CACHE_URL", _cache_url),
        "KEY_PREFIX": "failsafe-throttle",
        # A hung Redis costs a request at most this long; the limits are then lifted for a
        # while (governance/api/throttling.py) rather than waited for on every request.
        "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
    },
}

# --- API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Basic first: an unauthenticated API call gets 401 with WWW-Authenticate, not 403.
    # A bearer API token comes before the session: with both, the token's limits apply.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "governance.api.authentication.LockoutBasicAuthentication",
        "governance.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # In this order: who is asking, whether they may act (before their input is read), then
    # whether every query parameter is one the operation documents.
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "governance.api.access.HoldsTheRequiredAction",
        "governance.api.query.DocumentedQueryOnly",
    ],
    # DRF's parsers, refusing what no operation can use: JSON nested deeper than 32, NUL and
    # lone surrogates (a 400 that says so, not a 500 from the decoder or the database).
    "DEFAULT_PARSER_CLASSES": [
        "governance.api.parsers.JSONParser",
    ],
    # django-filter's, with booleans that refuse `?open=banana` (400) instead of ignoring it.
    "DEFAULT_FILTER_BACKENDS": ["governance.api.filtering.StrictFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "governance.api.pagination.LimitOffsetWithCeiling",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "governance.api.errors.exception_handler",
    # Rate limits, counted in the `throttle` cache (governance/api/throttling.py): per API
    # token (a CI job's token never spends its owner's), per signed-in user, per address
    # without credentials, ROLL BACK NOW and confirm on their own, and per alert token.
    "DEFAULT_THROTTLE_CLASSES": ["governance.api.throttling.CallerRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": env_rate("API_RATE_USER", default="1200/min"),
        "token": env_rate("API_RATE_TOKEN", default="600/min"),
        "anon": env_rate("API_RATE_ANON", default="60/min"),
        "rollback": env_rate("API_RATE_ROLLBACK", default="120/min"),
        "alert": env_rate("ALERT_RATE_TOKEN", default="600/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Failsafe API",
    "DESCRIPTION": "Release governance and incident war rooms for AI models.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "governance.api.schema.document_errors",  # 400-404, 413, 415, 429 as they are shaped
        "governance.api.schema.request_bodies",  # only their fields; 0.912 or "0.912"
    ],
    "ENUM_NAME_OVERRIDES": {
        "GateCriterionEnum": "releases.models.GateCriterion",
        "ReleaseStatusEnum": "releases.models.ReleaseStatus",
        "StepStatusEnum": "releases.models.StepStatus",
        "IncidentStageEnum": "incidents.models.Stage",
        "RolloutStageEnum": "releases.models.RolloutStage",
        # SEV1..SEV4: an incident's, and the one a system's ungoverned change declares.
        "SeverityEnum": "incidents.models.Severity",
        # ≥ ≤ > <: a rollback trigger's and a followed model's metric rule.
        "NumericComparisonEnum": "releases.models.review.NUMERIC_COMPARISONS",
    },
}

# --- logs and metrics ----------------------------------------------------------------------
# LOG_FORMAT json: one JSON object a line (timestamp, level, logger, message, request_id,
# actor; task_id and task_name in Celery tasks) for a log pipeline. text: for a terminal.
# Default: text with DEBUG, json without (production; `make run` asks for text). Celery
# workers log the same way (config/celery.py keeps Celery from replacing this configuration).
LOG_FORMAT = os.environ.get("LOG_FORMAT") or ("text" if DEBUG else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'json' or 'text', not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "governance.logs.ContextFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": ["levelname", "name", "message", "request_id", "actor"],
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": True,  # ISO 8601, UTC
        },
        "text": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(actor)s] %(message)s"
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# /metrics (governance/metrics.py): open to direct connections from these networks, or to
# anyone presenting `Authorization: Bearer <METRICS_TOKEN>` (or METRICS_TOKEN_FILE).
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"])
METRICS_TOKEN = env_secret("METRICS_TOKEN", default="")
PROMETHEUS_METRIC_NAMESPACE = "failsafe"  # django-prometheus's request metrics: failsafe_django_*
# The commit this deployment runs, for /metrics' failsafe_build_info (default: the checkout's).
FAILSAFE_COMMIT = os.environ.get("FAILSAFE_COMMIT", "")

# --- email (the rollback notices; releases/notifications.py) ---------------------------

# Email: EMAIL_URL (or EMAIL_URL_FILE: it may hold a password) in django-environ's form,
# e.g. smtp+tls://user:password@smtp.example.com:587 (STARTTLS), smtp+ssl://…:465,
# consolemail://. Without it: the console when DEBUG, else SMTP to localhost:25 (a relay
# beside the application). Django's tests use their in-memory outbox whatever is set here.
_email_url = env_secret("EMAIL_URL", default="")
_email = environ.Env.email_url_config(_email_url) if _email_url else {}
EMAIL_BACKEND = _email.get("EMAIL_BACKEND") or (
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend"
)
EMAIL_HOST = _email.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS", False))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL", False))
if _email.get("EMAIL_FILE_PATH"):  # filemail:////var/mail/failsafe
    EMAIL_FILE_PATH = _email["EMAIL_FILE_PATH"]
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", default=10)  # seconds: a hung server hangs no worker
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Failsafe <failsafe@localhost>")
