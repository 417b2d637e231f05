"""Settings of bench/pages.py's server: the app's own settings, plus an empty view (bench/empty/).

Everything else (middleware, templates, database, security) is config.settings, read from the
same environment variables; only the URLconf differs.
"""

import sys

if __name__ == "__main__":  # `make bench` runs every bench/*.py: this one is no benchmark
    sys.exit(0)

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.pages_urls"
