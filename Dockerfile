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

# The exact pins of pyproject.toml, in a layer of their own: editing the source does not
# reinstall them. The project itself runs from /app (on PYTHONPATH) rather than from an
# installed wheel, because templates/ and static/ live beside the packages, not in them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --requirement /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .

# Static files are collected into the image; whitenoise serves them with hashed names.
# The settings refuse to load without DATABASE_URL and SECRET_KEY: throwaway values for this
# step only. collectstatic opens no database connection and signs nothing.
RUN DATABASE_URL=postgres://collectstatic@localhost/unused \
    SECRET_KEY=collectstatic-only-not-a-secret \
    python manage.py collectstatic --noinput --verbosity 0

# Run as an unprivileged user. The code and static files stay root-owned and read-only to it;
# /var/lib/failsafe is its one writable directory (Celery beat's schedule).
RUN groupadd --system --gid 10001 failsafe \
    && useradd --system --uid 10001 --gid failsafe --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin failsafe \
    && install --directory --owner=failsafe --group=failsafe /var/lib/failsafe
USER 10001:10001

EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--no-control-socket"]
