"""Test settings: the real settings module, pointed at Redis database 15 and labelled "test" so a
test run never touches (or reaps) the containers and streams of a running Kiln."""

import os

os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("KILN_INSTANCE", "test")
os.environ.setdefault("KILN_CHANNEL_PREFIX", "kiln-test:asgi")
os.environ.setdefault("BLUEPRINT_TOKEN_DELAY_MS", "0")

from config.settings import *  # noqa: E402,F401,F403
