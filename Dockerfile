# syntax=docker/dockerfile:1
# The Failsafe production image. One image for every process: docker-compose.yml picks the
# command (gunicorn, the Celery worker, Celery beat, the one-shot migration).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=config.settings

WORKDIR /app

# requirements-production.lock (`make lock`): the runtime dependencies of pyproject.toml and
# everything they pull in, each pinned with its hashes, in a layer of their own: editing the
# source does not reinstall them. The project itself runs from /app (on PYTHONPATH) rather
# than from an installed wheel, because templates/ and static/ live beside the packages.
COPY requirements-production.lock ./
RUN pip install --require-hashes --requirement requirements-production.lock

COPY . .

# Static files are collected into the image; whitenoise serves them with hashed names.
# The settings refuse to load without DATABASE_URL and SECRET_KEY: throwaway values for this
# step only. collectstatic opens no database connection and signs nothing.
RUN DATABASE_URL=postgres://collectstatic@localhost/unused \
    SECRET_KEY=collectstatic-only-not-a-secret \
    python manage.py collectstatic --noinput --verbosity 0

# Run as an unprivileged user. The code and static files stay root-owned and read-only to it:
# nothing is written in the image (beat keeps its schedule and lock in Redis, /metrics its
# files in a tmpfs the compose file mounts).
RUN groupadd --system --gid 10001 failsafe \
    && useradd --system --uid 10001 --gid failsafe --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin failsafe
USER 10001:10001

EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--no-control-socket"]
