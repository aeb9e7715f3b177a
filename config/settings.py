"""Kiln's one settings module. Every knob is read from the environment and has a default that runs
on one machine (SQLite, local Redis, local Docker engine, the offline model backend)."""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

# --- Core ------------------------------------------------------------------------------------------

# Runtime state (SQLite file, preview folders, generated secrets) lives under var/, never in git.
VAR_DIR = Path(env("KILN_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _local_secret_key() -> str:
    # A per-machine key written once, so a fresh checkout never runs with a key from git.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        import secrets

        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = env("DJANGO_SECRET_KEY", default=None) or _local_secret_key()
DEBUG = env.bool("DJANGO_DEBUG", default=False)

# The builder's own host, and the parent domain under which each preview gets a host of its own
# (p-<token>.<PREVIEW_BASE_DOMAIN>): a different site, so the builder's cookies never reach it.
BUILDER_HOSTS = env.list("BUILDER_HOSTS", default=["127.0.0.1", "localhost"])
PREVIEW_BASE_DOMAIN = env("PREVIEW_BASE_DOMAIN", default="localhost")
PREVIEW_SCHEME = env("PREVIEW_SCHEME", default="http")
KILN_PORT = env.int("KILN_PORT", default=8000)
PREVIEW_PORT = env.int("PREVIEW_PORT", default=KILN_PORT)
# The exact origins (scheme, host, port) whose pages may open the builder's websocket. Behind a proxy
# that serves the builder on another scheme or port, list them: BUILDER_ORIGINS=https://kiln.example.com
BUILDER_ORIGINS = env.list("BUILDER_ORIGINS", default=[f"http://{h}:{KILN_PORT}" for h in BUILDER_HOSTS])
ALLOWED_HOSTS = BUILDER_HOSTS + [f".{PREVIEW_BASE_DOMAIN}"]
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "axes",
    "builder",
    "generation",
    "sandbox",
    "feedback",
    "training",
    "accounts",
]

MIDDLEWARE = [
    # First, so preview hosts never touch the builder's sessions, CSRF or auth.
    "sandbox.middleware.PreviewHostMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "config.csp.BuilderCSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a refused login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
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
            ],
        },
    },
]

# --- Database --------------------------------------------------------------------------------------

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'kiln.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Web, two workers and tests share one SQLite file: wait for the write lock instead of failing.
    # WAL lets readers go on while one connection writes, and synchronous=NORMAL syncs at checkpoints
    # rather than at every commit: 50 turns started at once no longer queue behind 50 fsyncs.
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    })
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth, sessions, security ------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# Login throttle (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one user name from one
# address, that pair is refused for LOGIN_LOCKOUT_MINUTES with a page that says so. Keyed on both, so
# a stranger guessing from elsewhere cannot lock the real user out. The admin's login is covered too.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False  # not a banner on every manage.py command; lockouts are still logged
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Builder pages (and the admin) run only Kiln's own static scripts and styles: no inline script, so an
# injected tag cannot run. They frame only preview hosts and connect only to the builder (its websocket
# included). Preview hosts never reach this middleware: the preview proxy sets their own CSP.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF, *(origin.replace("http", "ws", 1) for origin in BUILDER_ORIGINS)],
        # frame-src: the preview hosts, added per request by config.csp.
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [NONE],
        "object-src": [NONE],
    },
}

# --- Static files (served locally: no CDN) -----------------------------------------------------------

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise expects it, even when serving from finders
WHITENOISE_USE_FINDERS = True  # serve straight from static/ without a collectstatic step

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Redis, Channels, Celery -------------------------------------------------------------------------

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": env("KILN_CHANNEL_PREFIX", default="kiln:asgi")},
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None  # tasks record their outcome in the database, not in a result store
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_TASK_ROUTES = {
    "builder.generate": {"queue": "generation"},
    "builder.build": {"queue": "build"},
    "builder.recover": {"queue": "build"},
    "sandbox.*": {"queue": "build"},
}
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # long tasks: never hoard work another worker could start
CELERY_TASK_ACKS_LATE = False  # turned on per task, only where the task is idempotent
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Beat runs inside the build worker (./kiln start passes -B): one schedule, one machine.
CELERY_BEAT_SCHEDULE = {
    "reap-expired-previews": {"task": "sandbox.reap_previews", "schedule": 300.0},
    # The pipeline's one watchdog: lost generations and builds queued again, dead previews restarted.
    "pipeline-watchdog": {"task": "builder.recover", "schedule": env.float("PIPELINE_WATCHDOG_S", default=20.0)},
}

# Per-generation event log (Redis Streams): how long a finished stream stays for late clients.
GENERATION_STREAM_TTL_S = env.int("GENERATION_STREAM_TTL_S", default=24 * 3600)
# Tokens arriving within this window are sent as one frame.
GENERATION_COALESCE_MS = env.int("GENERATION_COALESCE_MS", default=4)
# The generation worker's frames go to Redis in batches: the first frame of a batch waits this long
# for others (of any generation) to join it, so 50 streams cost a few hundred round trips a second
# instead of one per token (docs/streaming.md).
GENERATION_APPEND_LINGER_MS = env.float("GENERATION_APPEND_LINGER_MS", default=4.0)
# A generation still streaming after this long is stopped and fails with a message (the threads pool
# does not enforce Celery's time limits, so the run checks it itself).
GENERATION_MAX_S = env.float("GENERATION_MAX_S", default=600.0)

# --- Model backend -----------------------------------------------------------------------------------

# Any OpenAI-compatible endpoint: vLLM, a hosted API, or (default) Kiln's offline blueprint server.
BLUEPRINT_PORT = env.int("BLUEPRINT_PORT", default=8100)
# The offline server's own port by default, so a changed BLUEPRINT_PORT needs nothing else set.
MODEL_BASE_URL = env("MODEL_BASE_URL", default=f"http://127.0.0.1:{BLUEPRINT_PORT}/v1")
MODEL_NAME = env("MODEL_NAME", default="kiln-blueprint")
# Kiln's own models (issue 13), served by vLLM (training.serving) on this port.
OWN_MODEL_PORT = env.int("OWN_MODEL_PORT", default=8200)
OWN_MODEL_BASE_URL = env("OWN_MODEL_BASE_URL", default=f"http://127.0.0.1:{OWN_MODEL_PORT}/v1")
MODEL_API_KEY = env("MODEL_API_KEY", default="not-needed")
MODEL_MAX_TOKENS = env.int("MODEL_MAX_TOKENS", default=16000)
MODEL_TIMEOUT_S = env.float("MODEL_TIMEOUT_S", default=300.0)
# A version that fails to build (or renders broken) goes back to the model at most this many times.
REPAIR_ATTEMPTS = env.int("REPAIR_ATTEMPTS", default=2)
# Pace of the offline server's stream, so a person sees files form (0 = as fast as possible).
BLUEPRINT_TOKEN_DELAY_MS = env.float("BLUEPRINT_TOKEN_DELAY_MS", default=1.0)

# --- Sandbox (previews) ------------------------------------------------------------------------------

RUNTIME_IMAGE_REPO = env("RUNTIME_IMAGE_REPO", default="kiln-runtime")
SANDBOX_DIR = Path(env("SANDBOX_DIR", default=str(VAR_DIR / "sandbox")))
# "auto": gVisor (runsc) when the engine has it, runc otherwise.
SANDBOX_RUNTIME = env("SANDBOX_RUNTIME", default="auto")
PREVIEW_MEMORY = env("PREVIEW_MEMORY", default="256m")
PREVIEW_NANO_CPUS = env.int("PREVIEW_NANO_CPUS", default=500_000_000)
PREVIEW_PIDS_LIMIT = env.int("PREVIEW_PIDS_LIMIT", default=64)
PREVIEW_TTL_S = env.int("PREVIEW_TTL_S", default=3600)
BUILD_TIMEOUT_S = env.int("BUILD_TIMEOUT_S", default=60)
KILN_INSTANCE = env("KILN_INSTANCE", default="default")  # label value, so test runs reap only their own
# Smoke test in headless Chromium after each build (docs/sandbox.md); scores land on the Build.
SMOKE_TEST = env.bool("SMOKE_TEST", default=True)
SMOKE_TIMEOUT_S = env.int("SMOKE_TIMEOUT_S", default=20)
CHROMIUM_PATH = env("CHROMIUM_PATH", default="/usr/bin/chromium")
# Ready containers waiting for a new version (0 disables the warm pool).
PREVIEW_POOL_SIZE = env.int("PREVIEW_POOL_SIZE", default=2)
PREVIEW_MAX_PER_USER = env.int("PREVIEW_MAX_PER_USER", default=3)  # oldest stopped first
PREVIEW_MAX_RESTARTS = env.int("PREVIEW_MAX_RESTARTS", default=3)  # crash restarts of one preview
BUILD_MAX_CLAIMS = env.int("BUILD_MAX_CLAIMS", default=3)  # a build whose worker died this often fails
BUILD_STALE_S = env.int("BUILD_STALE_S", default=90)  # no heartbeat this long: its worker is presumed dead

# A claimed job's lease (config.leases): a dead worker's job is taken over after this long.
LEASE_TTL_MS = env.int("LEASE_TTL_MS", default=6000)

# The license named in an exported dataset's card (training/card.py). Kiln's users own what they typed
# and what they kept; an installation says under what terms its data may be used: "other" until then.
DATASET_LICENSE = env("DATASET_LICENSE", default="other")

# --- Fair use (builder.fair_use): per-user work in flight; the rest waits its turn, oldest first -----

FAIR_RUNNING_GENERATIONS = env.int("FAIR_RUNNING_GENERATIONS", default=2)  # handed to workers at once
FAIR_RUNNING_BUILDS = env.int("FAIR_RUNNING_BUILDS", default=2)  # queued or building at once
FAIR_WAITING_PROMPTS = env.int("FAIR_WAITING_PROMPTS", default=10)  # waiting beyond those; more is refused

# --- Accounts (accounts/): sign-up, invites, password change and reset --------------------------------

# "invite" (default): sign-up needs an invite made by staff in the admin; "open": anyone may sign up.
SIGNUP_MODE = env("SIGNUP_MODE", default="invite")
if SIGNUP_MODE not in ("invite", "open"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"SIGNUP_MODE is {SIGNUP_MODE!r}: write invite or open.")
INVITE_DAYS = env.int("INVITE_DAYS", default=14)  # an invite link works this long
# Per address (sign-up, reset) or per user (change), per hour: the login's own throttle is django-axes.
SIGNUP_ATTEMPTS_PER_HOUR = env.int("SIGNUP_ATTEMPTS_PER_HOUR", default=10)
PASSWORD_RESETS_PER_HOUR = env.int("PASSWORD_RESETS_PER_HOUR", default=5)
PASSWORD_CHANGES_PER_HOUR = env.int("PASSWORD_CHANGES_PER_HOUR", default=10)
# E-mail (password reset links): printed to the console by default; EMAIL_URL=smtp+tls://user:pass@host:587
# (django-environ's email URL) sends through SMTP.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="kiln@localhost")

# --- Admin account created by ./kiln start ----------------------------------------------------------

KILN_ADMIN_USERNAME = env("KILN_ADMIN_USERNAME", default="admin")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"daphne": {"level": "WARNING"}, "httpx": {"level": "WARNING"}},
}
