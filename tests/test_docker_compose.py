"""docker-compose.yml and the Dockerfile, held to the project (no Docker engine runs here).

Each service's command is run the way the container would run it, as far as that works
without Docker: the environment the compose file gives it (plus the Dockerfile's ENV), the
same executables, and `--help` / `--check-config` / `check --deploy` so nothing is served.
A renamed module, a setting nobody reads, an unknown option or a health check that cannot
pass fails here.
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import shlex
import subprocess
import sys
import time
import tomllib
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import environ
import pytest
import yaml
from django.core.management import get_commands, load_command_class
from django.http.request import validate_host
from django.urls import resolve
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

import config.env
from config import health

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
BIN = Path(sys.executable).parent

# What an operator puts in .env; every ${VAR} without a default must be listed here.
OPERATOR_VARIABLES = {
    "POSTGRES_PASSWORD": "s3cret-pw",
    "FAILSAFE_HOSTNAME": "failsafe.example.com",
}
ONE_SHOT = {"migrate"}
# Read by a library, not by the project's settings: prometheus-client's multiprocess mode.
LIBRARY_VARIABLES = {"PROMETHEUS_MULTIPROC_DIR"}
# The modules a production process imports before it reads anything from the environment.
ENVIRONMENT_READERS = [
    "config/settings.py", "config/celery_settings.py", "config/failsafe_settings.py",
    "config/wsgi.py", "config/celery.py",
    "manage.py",
]  # fmt: skip


# --- reading the files ------------------------------------------------------------------------
_VARIABLE = re.compile(
    r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?(?P<arg>[^}]*)\})"
)


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's interpolation: $$, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name", "op", "arg")
        value = variables.get(name)
        if op in (":-", ":?") and not value:
            value = None
        if value is not None:
            return value
        if op in (":-", "-"):
            return arg
        raise AssertionError(f"${{{name}}} has no default and is not an operator variable")

    return _VARIABLE.sub(substitute, value)


def _interpolate_all(node: object, variables: dict[str, str]) -> object:
    if isinstance(node, str):
        return interpolate(node, variables)
    if isinstance(node, list):
        return [_interpolate_all(item, variables) for item in node]
    if isinstance(node, dict):
        return {key: _interpolate_all(value, variables) for key, value in node.items()}
    return node


@cache
def raw_compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@cache
def compose() -> dict:
    return _interpolate_all(raw_compose(), OPERATOR_VARIABLES)  # type: ignore[return-value]


def services() -> dict[str, dict]:
    return compose()["services"]


def app_services() -> dict[str, dict]:
    """The services that run the project's image (built from the Dockerfile)."""
    return {name: spec for name, spec in services().items() if "build" in spec}


def environment_of(spec: dict) -> dict[str, str]:
    env = spec.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(arg) for arg in command]


def healthcheck_argv(spec: dict) -> list[str]:
    test = spec["healthcheck"]["test"]
    if isinstance(test, str):
        return ["sh", "-c", test]
    kind, *rest = test
    assert kind in ("CMD", "CMD-SHELL"), test
    return rest if kind == "CMD" else ["sh", "-c", rest[0]]


@cache
def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in dockerfile():
        if keyword == "ENV":
            env.update(item.split("=", 1) for item in shlex.split(rest))
    return env


def workdir() -> str:
    return [rest for keyword, rest in dockerfile() if keyword == "WORKDIR"][-1]


# --- what the project reads from the environment -------------------------------------------
def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _env_helpers() -> dict[str, bool]:
    """config.env's readers, and whether each also takes NAME_FILE."""
    return {
        name: "_FILE" in inspect.getsource(function)
        for name, function in inspect.getmembers(config.env, inspect.isfunction)
        if function.__module__ == config.env.__name__ and name.startswith("env_")
    }


@cache
def environment_reads() -> tuple[frozenset[str], frozenset[str]]:
    """(every name the project reads, the names it cannot start without)."""
    helpers = _env_helpers()
    os_readers = {"os.environ.get", "os.getenv", "os.environ.setdefault", "os.environ.__getitem__"}
    names: set[str] = set()
    required: set[str] = set()
    for relative in ENVIRONMENT_READERS:
        tree = ast.parse((ROOT / relative).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Subscript) and _dotted(node.value) == "os.environ":
                key = node.slice
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    names.add(key.value)
                continue
            if not isinstance(node, ast.Call) or not node.args:
                continue
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            function = _dotted(node.func)
            if function in os_readers:
                names.add(first.value)
            elif function in helpers:
                names.add(first.value)
                if helpers[function]:
                    names.add(f"{first.value}_FILE")
                if function == "env_secret" and not any(k.arg == "default" for k in node.keywords):
                    required.add(first.value)
    # settings.py raises ImproperlyConfigured itself when DATABASE_URL is missing.
    required.add("DATABASE_URL")
    return frozenset(names), frozenset(required)


def test_the_environment_scan_finds_what_settings_read():
    names, required = environment_reads()
    assert {"DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "SECRET_KEY_FILE"} <= names
    assert {"ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "BEHIND_TLS_PROXY", "DEBUG"} <= names
    assert "DJANGO_SETTINGS_MODULE" in names  # manage.py, wsgi.py, celery.py
    assert {"SECRET_KEY", "DATABASE_URL"} <= required
    assert "CELERY_BROKER_URL" not in required  # it has a default


# --- the environment each container gets ---------------------------------------------------
def container_env(spec: dict, tmp_path: Path) -> dict[str, str]:
    """The Dockerfile's ENV and the service's environment, mapped onto this checkout.

    Nothing is inherited from the test process: a setting the compose file forgets is missing
    here too. Mounted secrets become files under tmp_path.
    """
    env = {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "LANG": "C.UTF-8"}
    for key, value in dockerfile_env().items():
        env[key] = value.replace(workdir(), str(ROOT))
    env.update(environment_of(spec))
    for key, value in list(env.items()):
        if value.startswith("/run/secrets/"):
            secret = tmp_path / Path(value).name
            secret.write_text(_secret_content(Path(value).name))
            env[key] = str(secret)
    for mount in spec.get("tmpfs") or []:  # an empty folder in its place
        target = mount.split(":", 1)[0]
        local = tmp_path / "tmpfs" / target.strip("/").replace("/", "-")
        local.mkdir(parents=True, exist_ok=True)
        env = {key: str(local) if value == target else value for key, value in env.items()}
    static = tmp_path / "staticfiles"
    static.mkdir(exist_ok=True)
    env.setdefault("STATIC_ROOT", str(static))  # the image has /app/staticfiles; this run does not
    return env


def _secret_content(name: str) -> str:
    """What the operator puts in each secret (the header of docker-compose.yml says how)."""
    if name == "evidence_signing_key":
        from governance.evidence.sign import generate_private_pem

        return generate_private_pem().decode()  # what `openssl genpkey -algorithm ed25519` writes
    if name == "email_url":
        return "smtp+tls://failsafe:mail-password@smtp.example.com:587\n"
    return "compose-test-" + "k" * 50 + "\n"


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    executable, *rest = args
    if executable in ("python", "python3"):
        executable = sys.executable
    elif (BIN / executable).exists():
        executable = str(BIN / executable)
    return subprocess.run(
        [executable, *rest], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


# --- the services ------------------------------------------------------------------------------
def test_the_expected_services_exist():
    assert {"postgres", "redis", "migrate", "web", "worker", "beat"} <= set(services())
    assert set(app_services()) == {"migrate", "web", "worker", "rollback-worker", "beat"}
    assert services()["postgres"]["image"].startswith("postgres:16")
    assert services()["redis"]["image"].startswith("redis:7")


def test_every_variable_without_a_default_is_one_the_operator_sets():
    # interpolate() refuses the others; this names the ones the header comment documents.
    required = set(re.findall(r"\$\{([A-Za-z_0-9]+):?\?", COMPOSE.read_text()))
    assert required == set(OPERATOR_VARIABLES)
    header = COMPOSE.read_text().split("\nname:", 1)[0]
    for name in required:
        assert name in header, f"document {name} at the top of docker-compose.yml"


@pytest.mark.parametrize("name", sorted(app_services()))
def test_app_services_set_only_variables_the_project_reads(name):
    names, required = environment_reads()
    env = environment_of(app_services()[name])
    unknown = set(env) - names - LIBRARY_VARIABLES
    assert not unknown, f"{name} sets {sorted(unknown)}, which config/settings.py never reads"
    for variable in required:
        assert variable in env or f"{variable}_FILE" in env, f"{name} lacks {variable}"


@pytest.mark.parametrize("name", sorted(app_services()))
def test_secret_files_are_mounted_secrets(name):
    spec = app_services()[name]
    declared = set(compose().get("secrets") or {})
    mounted = {s if isinstance(s, str) else s["source"] for s in spec.get("secrets") or []}
    assert mounted <= declared
    for key, value in environment_of(spec).items():
        if key.endswith("_FILE"):
            assert value.startswith("/run/secrets/"), key
            assert Path(value).name in mounted, f"{key} names a secret {name} does not mount"


def test_the_application_reaches_the_postgres_and_redis_services():
    postgres = environment_of(services()["postgres"])
    for name, spec in app_services().items():
        env = environment_of(spec)
        database = environ.Env.db_url_config(env["DATABASE_URL"])
        assert database["ENGINE"] == "django.db.backends.postgresql"
        assert database["HOST"] in services(), name
        assert database["USER"] == postgres["POSTGRES_USER"]
        assert database["PASSWORD"] == postgres["POSTGRES_PASSWORD"]
        assert database["NAME"] == postgres["POSTGRES_DB"]
        # A database that stops answering must fail /readyz and start-up, not hang them.
        assert 0 < int(database["OPTIONS"]["connect_timeout"]) <= 10
        broker = urlsplit(env["CELERY_BROKER_URL"])
        assert broker.scheme == "redis"
        assert broker.hostname in services(), name
        cache = urlsplit(env["CACHE_URL"])  # the rate limits: one Redis for every web process
        assert cache.scheme == "redis"
        assert cache.hostname in services(), name


@pytest.mark.django_db
def test_production_runs_the_postgres_major_version_the_tests_run_on():
    from django.db import connection

    tag = services()["postgres"]["image"].split(":", 1)[1]
    assert int(tag.split(".")[0]) == connection.pg_version // 10000


def test_dependencies_exist_and_wait_for_the_right_condition():
    for name, spec in services().items():
        depends = spec.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {target: {"condition": "service_started"} for target in depends}
        for target, rule in depends.items():
            assert target in services(), f"{name} depends on unknown service {target}"
            condition = rule.get("condition", "service_started")
            if condition == "service_healthy":
                assert "healthcheck" in services()[target], f"{target} has no health check"
            elif condition == "service_completed_successfully":
                assert target in ONE_SHOT
            else:
                raise AssertionError(f"{name} → {target}: wait for health, not {condition}")
    for name in ("web", "worker", "rollback-worker"):
        assert services()[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )


def test_every_long_running_service_has_a_health_check():
    for name, spec in services().items():
        if name in ONE_SHOT:
            assert "healthcheck" not in spec
            assert spec.get("restart") == "no", "a one-shot service must not be restarted"
        else:
            assert spec.get("healthcheck", {}).get("test"), f"{name} has no health check"
            assert spec.get("restart") in ("always", "unless-stopped"), name


def test_named_volumes_are_declared():
    declared = set(compose().get("volumes") or {})
    for name, spec in services().items():
        for volume in spec.get("volumes") or []:
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume["source"]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} mounts undeclared volume {source}"


def test_beat_runs_as_a_pair_on_the_redis_it_shares_with_the_broker():
    from django.conf import settings

    beat = services()["beat"]
    assert beat["deploy"]["replicas"] == 2  # the lock holder and a hot standby
    assert not any(a.startswith("--schedule") for a in argv(beat["command"]))  # no local file
    assert settings.CELERY_BEAT_SCHEDULER == "config.beat:FailsafeScheduler"
    env = environment_of(beat)
    assert urlsplit(env["REDBEAT_REDIS_URL"]).hostname in services()
    assert env["REDBEAT_REDIS_URL"] == env["CELERY_BROKER_URL"]
    assert beat["depends_on"]["redis"]["condition"] == "service_healthy"


def test_a_worker_of_its_own_takes_only_the_rollback_queue():
    queues = {}
    for name in ("worker", "rollback-worker"):
        args = argv(services()[name]["command"])
        (option,) = [a for a in args if a.startswith("--queues=")]
        queues[name] = set(option.split("=", 1)[1].split(","))
    rollbacks = environment_of(services()["web"])["ROLLBACK_QUEUE"]
    assert rollbacks != "celery"  # the default queue holds everything else
    assert queues["rollback-worker"] == {rollbacks}
    assert queues["worker"] == {"celery", rollbacks}  # and helps when rollback-worker is down
    # Every process sends rollbacks to the same queue.
    assert {environment_of(spec)["ROLLBACK_QUEUE"] for spec in app_services().values()} == {
        rollbacks
    }
    assert services()["rollback-worker"]["healthcheck"] == services()["worker"]["healthcheck"]


def test_the_web_sums_its_processes_metrics_from_a_folder_empty_at_start():
    web = services()["web"]
    folder = environment_of(web)["PROMETHEUS_MULTIPROC_DIR"]
    (mount,) = [t for t in web.get("tmpfs") or [] if t.split(":", 1)[0] == folder]
    options = dict(o.split("=", 1) for o in mount.split(":", 1)[1].split(","))
    users = [rest for keyword, rest in dockerfile() if keyword == "USER"]
    assert options["uid"] == users[-1].split(":")[0]  # writable by the image's user
    for name in ("worker", "rollback-worker", "beat"):  # Celery's processes write none
        assert "PROMETHEUS_MULTIPROC_DIR" not in environment_of(services()[name])


def test_mail_links_and_evidence_signing_are_configured():
    for name, spec in app_services().items():
        env = environment_of(spec)
        assert env["SITE_URL"] == "https://" + OPERATOR_VARIABLES["FAILSAFE_HOSTNAME"], name
        assert env["EMAIL_URL_FILE"] == "/run/secrets/email_url", name
        assert env["EVIDENCE_SIGNING_KEY_FILE"] == "/run/secrets/evidence_signing_key", name
    header = COMPOSE.read_text().split("\nname:", 1)[0]
    assert "secrets/evidence_signing_key" in header and "secrets/email_url" in header


@pytest.mark.django_db
def test_the_compose_environment_signs_evidence_and_mails_through_smtp(tmp_path):
    """The settings of a container, loaded from the compose environment and its secrets."""
    env = container_env(app_services()["worker"], tmp_path)
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "from governance.evidence import sign; "
        "print(s.EMAIL_HOST, s.SITE_URL, sign.signing_key() is not None)"
    )
    result = run(["python", "-c", code], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["smtp.example.com", "https://failsafe.example.com", "True"]


# --- the commands ------------------------------------------------------------------------------
def _split_celery(args: list[str]) -> tuple[str, str, list[str]]:
    """celery [--app=X | -A X] <subcommand> …  →  (app, subcommand, the rest)."""
    assert args[0] == "celery", args
    rest = args[1:]
    app = None
    while rest and rest[0].startswith("-"):
        option = rest.pop(0)
        if option.startswith("--app="):
            app = option.split("=", 1)[1]
        elif option in ("-A", "--app"):
            app = rest.pop(0)
    assert app, f"celery without --app: {args}"
    return app, rest[0], rest[1:]


def test_celery_services_load_the_project_app():
    from celery.app.utils import find_app

    from config.celery import app as project_app

    for name in ("worker", "rollback-worker", "beat"):
        app_name, subcommand, _ = _split_celery(argv(services()[name]["command"]))
        assert subcommand == name.removeprefix("rollback-")
        assert find_app(app_name) is project_app


def test_beat_schedules_only_tasks_the_worker_knows():
    from django.conf import settings

    from config.celery import app

    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks, entry


def test_the_migrate_service_runs_an_existing_management_command():
    args = argv(services()["migrate"]["command"])
    assert args[:2] == ["python", "manage.py"]
    name, *options = args[2:]
    commands = get_commands()
    assert name in commands
    command = load_command_class(commands[name], name)
    parsed = command.create_parser("manage.py", name).parse_args(options)
    assert parsed.interactive is False  # --noinput: nobody answers prompts in a container


def test_web_serves_the_wsgi_application_of_the_settings():
    from django.conf import settings

    args = argv(services()["web"]["command"])
    assert args[0] == "gunicorn"
    apps = [a for a in args[1:] if not a.startswith("-") and ":" in a]
    assert apps == [settings.WSGI_APPLICATION.replace(".application", ":application")]
    assert "--bind=0.0.0.0:8000" in args or "0.0.0.0:8000" in args


def test_the_dockerfile_default_command_is_the_web_server():
    cmd = [rest for keyword, rest in dockerfile() if keyword == "CMD"][-1]
    import json

    default = json.loads(cmd)
    web = argv(services()["web"]["command"])
    assert default[:2] == web[:2]


@pytest.mark.parametrize("name", ["web", "worker", "rollback-worker", "beat", "migrate"])
def test_each_command_starts_with_the_compose_environment(name, tmp_path):
    """The real executables, the container's environment, nothing served or migrated."""
    spec = app_services()[name]
    env = container_env(spec, tmp_path)
    args = argv(spec["command"])
    if args[0] == "gunicorn":
        args.insert(1, "--check-config")  # imports the WSGI application, then exits
    elif args[0] == "celery":
        args.append("--help")  # loads the app, parses every option, then exits
    elif args[:2] == ["python", "manage.py"]:
        args = ["python", "manage.py", "check", "--deploy", "--fail-level", "DEBUG"]
    result = run(args, env)
    assert result.returncode == 0, result.stdout + result.stderr


# --- the health checks -------------------------------------------------------------------------
def _python_snippet(args: list[str]) -> str:
    assert args[:2] == ["python", "-c"], args
    compile(args[2], "<healthcheck>", "exec")
    return args[2]


def test_the_web_health_check_resolves_to_the_liveness_probe():
    code = _python_snippet(healthcheck_argv(services()["web"]))
    (url,) = re.findall(r"https?://[^'\"]+", code)
    parts = urlsplit(url)
    assert parts.port == 8000
    match = resolve(parts.path)
    assert match.func is health.healthz
    from django.conf import settings

    assert any(re.search(p, parts.path.lstrip("/")) for p in settings.SECURE_REDIRECT_EXEMPT)
    (host,) = re.findall(r"'Host': '([^']+)'", code)
    allowed = environment_of(services()["web"])["ALLOWED_HOSTS"].split(",")
    assert validate_host(host, allowed), f"Host {host} is not in ALLOWED_HOSTS {allowed}"


@pytest.fixture
def production_probe_settings(settings):
    settings.ALLOWED_HOSTS = environment_of(services()["web"])["ALLOWED_HOSTS"].split(",")
    settings.SECURE_SSL_REDIRECT = True
    return settings


def test_the_web_health_check_passes_against_a_live_server(live_server, production_probe_settings):
    code = _python_snippet(healthcheck_argv(services()["web"]))
    code = code.replace("http://127.0.0.1:8000", live_server.url)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

    # …and fails when the Host it sends is not allowed: it really is checked.
    production_probe_settings.ALLOWED_HOSTS = ["elsewhere.example.com"]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0


def test_the_worker_health_check_pings_this_worker(tmp_path):
    args = healthcheck_argv(services()["worker"])
    assert args[:2] == ["sh", "-c"]
    assert "$$HOSTNAME" in raw_compose()["services"]["worker"]["healthcheck"]["test"][1]
    command = shlex.split(args[2].split(">")[0].replace("$HOSTNAME", "worker-1"))
    app, subcommand, rest = _split_celery(command)
    assert app == _split_celery(argv(services()["worker"]["command"]))[0]
    assert (subcommand, rest[0]) == ("inspect", "ping")
    (destination,) = [a.split("=", 1)[1] for a in rest if a.startswith("--destination=")]
    worker = argv(services()["worker"]["command"])
    assert not any(a.startswith(("-n", "--hostname")) for a in worker), (
        "the worker names itself: make the health check ping that name"
    )
    assert destination == "celery@worker-1"  # Celery's default node name: celery@%h
    result = run([*command, "--help"], container_env(services()["worker"], tmp_path))
    assert result.returncode == 0, result.stderr


def test_the_beat_health_check_says_whether_the_pair_schedules(tmp_path):
    """`python -m config.beat` in the container's environment, on a Redis of its own: unhealthy
    before any tick and after a stale one, healthy after a fresh one, whichever beat asks."""
    from redis import Redis

    from config import beat
    from config.celery import app
    from config.embedded import EmbeddedRedis

    args = healthcheck_argv(services()["beat"])
    assert args == ["python", "-m", "config.beat"]
    redis = EmbeddedRedis.start(tmp_path / "redis", persist=False)
    try:
        env = container_env(services()["beat"], tmp_path)
        env["REDBEAT_REDIS_URL"] = f"unix://{redis.socket}"
        store = Redis(unix_socket_path=str(redis.socket))
        key = beat.ticker_key(app)

        assert run(args, env).returncode == 1  # no beat ticked yet
        store.hset(key, mapping={"holder": "beat-1 pid 7", "ticked_at": time.time() - 3600})
        assert run(args, env).returncode == 1  # the holder stopped ticking an hour ago
        beat.record_tick(store, key)
        healthy = run(args, env)
        assert healthy.returncode == 0, healthy.stdout + healthy.stderr
        assert "active beat:" in healthy.stdout
        store.close()
    finally:
        redis.stop()


# --- the Dockerfile ------------------------------------------------------------------------------
def test_the_image_runs_a_python_the_project_supports():
    (base,) = [rest for keyword, rest in dockerfile() if keyword == "FROM"]
    match = re.fullmatch(r"python:(3\.\d+)(?:\.\d+)?-slim(?:-\w+)?", base)
    assert match, base
    assert match.group(1) in ("3.11", "3.12")
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert SpecifierSet(requires).contains(match.group(1) + ".0")


def test_the_image_installs_the_pinned_dependencies_and_its_executables():
    # The lock matches pyproject.toml's runtime pins: tests/test_makefile_lock.py.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runs = " ".join(rest for keyword, rest in dockerfile() if keyword == "RUN")
    assert "pip install --require-hashes --requirement requirements-production.lock" in runs
    pinned = {Requirement(r).name.lower() for r in project["dependencies"]}
    for name, spec in app_services().items():
        executable = argv(spec["command"])[0]
        assert executable == "python" or executable in pinned, f"{name}: {executable} not pinned"


def test_the_image_collects_static_files_and_runs_unprivileged():
    runs = [rest for keyword, rest in dockerfile() if keyword == "RUN"]
    (collect,) = [r for r in runs if "collectstatic" in r]
    assert "DATABASE_URL=" in collect and "SECRET_KEY=" in collect
    assert "manage.py collectstatic --noinput" in collect
    users = [rest for keyword, rest in dockerfile() if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    env = dockerfile_env()
    assert env["DJANGO_SETTINGS_MODULE"] == os.environ["DJANGO_SETTINGS_MODULE"]
    assert env["PYTHONPATH"] == workdir()


def test_the_build_context_leaves_out_secrets_and_local_state():
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".data", ".env", "secrets", "staticfiles"} <= ignored
    secret_file = compose()["secrets"]["django_secret_key"]["file"]
    assert Path(secret_file).parts[0] in ignored  # ./secrets/… stays out of the image
