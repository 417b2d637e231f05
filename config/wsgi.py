import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# What is loaded by now (Django, the apps, their modules) lives as long as the process:
# frozen, the collector's full passes skip it, and a request no longer pays for walking it
# (tens of milliseconds, now and then, in the slowest requests).
gc.freeze()
