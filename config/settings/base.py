"""Settings shared by every environment. Everything comes from the environment with safe local defaults;
production.py removes the defaults that must never reach a real deployment."""

from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("STORYFRONT_VAR_DIR", str(BASE_DIR / "var")))

SECRET_KEY = env_str("SECRET_KEY", "local-dev-only-not-secret-0f3c1e9a7d")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_htmx",
    "csp",
    "axes",
    "accounts",
    "catalog",
    "profiles",
    "marketing",
    "chat",
    "ml",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.CurrentMerchantMiddleware",
    # Last, as django-axes asks: it turns a lockout flagged during the view into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "accounts.context_processors.current_merchant",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'storyfront.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded demo database is shared by the web process and two workers (one streams chat replies into
    # rows every ~100 ms): WAL lets readers run beside a writer, IMMEDIATE transactions take the write lock up
    # front instead of failing with "database is locked" when upgrading, and writers wait up to 20 s.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        **DATABASES["default"].get("OPTIONS", {}),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses a locked-out client before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Client addresses (config/client_ip.py): how many reverse proxies in front of the app append to
# X-Forwarded-For. 0 ignores the header (it is client-written then) and uses the socket address. Every rate
# limit, lockout and audit address goes through this one setting.
TRUSTED_PROXY_COUNT = env_int("STORYFRONT_TRUSTED_PROXY_COUNT", 0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("STORYFRONT_TRUSTED_PROXY_COUNT must be 0 or more.")

# Login brute-force protection with django-axes: the maintained (Jazzband) library made for this; it hooks
# Django's authentication itself, so the dashboard and the admin login are both covered, and keeps attempts in
# the database that every web process shares (visible in the admin). One username from one address gets
# LOGIN_FAILURE_LIMIT failures per LOGIN_LOCKOUT_MINUTES: keyed on username AND address, so nobody elsewhere
# can lock a real user out by guessing at their email. One address failing LOGIN_IP_FAILURE_LIMIT times across
# any usernames (credential stuffing) is locked for every username (accounts/login_throttle.py).
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_IP_FAILURE_LIMIT = env_int("LOGIN_IP_FAILURE_LIMIT", 20)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = "accounts.login_throttle.failure_limit"
AXES_COOLOFF_TIME = LOGIN_LOCKOUT_MINUTES / 60  # hours: axes reads a float as hours
AXES_CLIENT_IP_CALLABLE = "config.client_ip.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.auth_views.lockout_response"
AXES_RESET_ON_SUCCESS = True

# API keys (accounts/api/authentication.py, accounts/api/throttling.py): an address whose key attempts failed
# API_KEY_FAILURE_LIMIT times within API_KEY_FAILURE_WINDOW_SECONDS gets 429 for every key attempt, valid or
# not, until that window has passed; each key may make API_KEY_RATE requests (DRF rate syntax).
API_KEY_FAILURE_LIMIT = env_int("API_KEY_FAILURE_LIMIT", 20)
API_KEY_FAILURE_WINDOW_SECONDS = env_int("API_KEY_FAILURE_WINDOW_SECONDS", 15 * 60)
API_KEY_RATE = env_str("API_KEY_RATE", "600/min")

# Mail: password reset links (and invitations). The console backend prints mail for local use; production.py
# defaults to SMTP. Reset links last PASSWORD_RESET_TIMEOUT seconds; one address gets at most
# PASSWORD_RESET_EMAILS_PER_HOUR reset mails, so the form cannot be used to flood someone's inbox.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("Set at most one of EMAIL_USE_TLS and EMAIL_USE_SSL.")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Storyfront <no-reply@localhost>")
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 60 * 60)
PASSWORD_RESET_EMAILS_PER_HOUR = env_int("PASSWORD_RESET_EMAILS_PER_HOUR", 3)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"

LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "accounts:login"
# Settings › Members: an invitation link works once, for this many days; a merchant has at most this many open
# invitations, so a compromised owner account cannot turn the invite form into a mail cannon.
INVITATION_EXPIRY_DAYS = env_int("INVITATION_EXPIRY_DAYS", 7)
INVITATION_MAX_OPEN = env_int("INVITATION_MAX_OPEN", 50)

# Uploads: the import endpoint enforces its own limit (413) before reading the body into memory.
CATALOG_IMPORT_MAX_BYTES = env_int("CATALOG_IMPORT_MAX_BYTES", 20 * 1024 * 1024)
# Customer, order and interaction-sequence files (profiles imports); bigger files go through `import_orders`.
PROFILES_IMPORT_MAX_BYTES = env_int("PROFILES_IMPORT_MAX_BYTES", 20 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 25 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = env_int("FILE_UPLOAD_MAX_MEMORY_SIZE", 25 * 1024 * 1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.api.authentication.MerchantAPIKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.api.permissions.HasMerchantScope"],
    "DEFAULT_PAGINATION_CLASS": "config.api_pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "config.api_schema.StoryfrontAutoSchema",
    "EXCEPTION_HANDLER": "config.api_errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON with a nesting limit (config/api_parsers.py); forms are still read, but the schema documents JSON.
    "DEFAULT_PARSER_CLASSES": [
        "config.api_parsers.DepthLimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": ["accounts.api.throttling.APIKeyRateThrottle"],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Storyfront API",
    "DESCRIPTION": (
        "Per-merchant REST API. Authenticate with `Authorization: Api-Key <key>`; keys carry the scopes "
        '`read`, `write` and `publish`. Errors are JSON: `{"message", "code", "field_errors"}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Served from our own origin only: no online validator badge, and ReDoc in the system fonts instead of
    # Google Fonts (templates/drf_spectacular/redoc.html drops the font link).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_UI_SETTINGS": {
        "theme": {
            "typography": {
                "fontFamily": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
                "headings": {"fontFamily": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"},
                "code": {"fontFamily": "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace"},
            }
        }
    },
    "COMPONENT_SPLIT_REQUEST": True,
}

# Content-Security-Policy (django-csp). Our pages load scripts, styles, images and fonts from our own origin
# only; the few inline scripts and styles that must stay (the API docs' start-up code, ReDoc's generated
# styles) carry the per-response nonce. The chat widget's endpoints are called from merchants' pages, whose
# own CSP governs them; this header only covers documents we serve.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}

# Celery. With no broker configured the embedded default is kombu's filesystem transport, so the demo
# needs no server; REDIS_URL or CELERY_BROKER_URL switches to Redis (tests and production).
_REDIS_URL = env_str("REDIS_URL")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", _REDIS_URL or "filesystem://")
CELERY_RESULT_BACKEND = env_str(
    "CELERY_RESULT_BACKEND", _REDIS_URL or f"file://{VAR_DIR / 'celery' / 'results'}"
)
CELERY_FILESYSTEM_DIR = VAR_DIR / "celery" / "broker"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Copy studio. Products per batched generate() call; "int8" quantizes the local model's linear layers on the
# CPU (see docs/benchmarks.md); the API key is sent to OpenAI-compatible endpoints; webhooks retry with
# exponential backoff from the base delay.
GENERATION_BATCH_PRODUCTS = env_int("GENERATION_BATCH_PRODUCTS", 16)
GENERATION_QUANTIZATION = env_str("GENERATION_QUANTIZATION") or None
# Drafts written per piece and try; the piece is the best that passes every check, else one assembled from
# the drafts' verified sentences (ml.engine.copy_assembly).
GENERATION_CANDIDATES = env_int("GENERATION_CANDIDATES", 3)
# on: copy is decoded with placeholders, unbacked claims (other shops, offers, awards, experts) and the brand
# voice's never-words suppressed (ml.engine.copy_decoding); off only to measure what that changes.
GENERATION_BANNED_PHRASES = env_bool("GENERATION_BANNED_PHRASES", True)
# on: a retried piece's prompt says what to do differently after the checker's findings on its best draft
# so far (a regenerated piece's first try: on its stored text); off only to measure what that changes.
GENERATION_RETRY_FEEDBACK = env_bool("GENERATION_RETRY_FEEDBACK", True)
if GENERATION_QUANTIZATION not in (None, "int8"):
    raise ImproperlyConfigured(
        f"GENERATION_QUANTIZATION must be empty or 'int8', not {GENERATION_QUANTIZATION!r}"
    )
GENERATION_API_KEY = env_str("GENERATION_API_KEY") or None
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8)
WEBHOOK_RETRY_BASE_SECONDS = env_int("WEBHOOK_RETRY_BASE_SECONDS", 30)
# Webhooks and tenant-configured model endpoints go through storyfront.outbound, which refuses loopback and
# private addresses. A self-hosted install whose receivers or inference server live on its own network turns
# this on; cloud metadata and link-local addresses stay refused either way.
OUTBOUND_ALLOW_PRIVATE = env_bool("STORYFRONT_OUTBOUND_ALLOW_PRIVATE", False)

# CPU threads torch may use in each worker process (0: torch's default, one per core).
TORCH_NUM_THREADS = env_int("TORCH_NUM_THREADS", 0)

# Model store: converted base checkpoints, fine-tuned adapters and training checkpoints.
MODEL_STORE_DIR = Path(env_str("MODEL_STORE_DIR", str(VAR_DIR / "models")))

# Chat fine-tuning (chat/training/). Dialogue uploads over the limit answer 413; a full fine-tune needs at least
# CHAT_FINETUNE_MIN_DIALOGUES training dialogues; evaluation snapshots keep at most CHAT_EVAL_MAX_DIALOGUES per
# split. Incremental fine-tuning runs on Celery beat every CHAT_INCREMENTAL_FINETUNE_SCHEDULE_SECONDS (daily),
# takes at most CHAT_INCREMENTAL_MAX_CONVERSATIONS new conversations and replays at most
# CHAT_REPLAY_MAX_DIALOGUES earlier dialogues.
# Copy fine-tuning (marketing/copy_training.py): at most COPY_FINETUNE_MAX_PRODUCTS catalog pairs and
# COPY_FINETUNE_MAX_PIECES approved pieces; at least COPY_FINETUNE_MIN_EXAMPLES examples; the gate generates for at
# most COPY_EVAL_MAX_PRODUCTS held-out products. Celery beat checks every COPY_LEARNING_SCHEDULE_SECONDS (daily) for
# merchants with COPY_FINETUNE_MIN_NEW_PIECES newly approved pieces.
COPY_FINETUNE_MAX_PRODUCTS = env_int("COPY_FINETUNE_MAX_PRODUCTS", 2000)
COPY_FINETUNE_MAX_PIECES = env_int("COPY_FINETUNE_MAX_PIECES", 2000)
COPY_FINETUNE_MIN_EXAMPLES = env_int("COPY_FINETUNE_MIN_EXAMPLES", 20)
COPY_EVAL_MAX_PRODUCTS = env_int("COPY_EVAL_MAX_PRODUCTS", 40)
COPY_FINETUNE_MIN_NEW_PIECES = env_int("COPY_FINETUNE_MIN_NEW_PIECES", 20)
COPY_LEARNING_SCHEDULE_SECONDS = env_int("COPY_LEARNING_SCHEDULE_SECONDS", 24 * 3600)

CHAT_DIALOGUE_IMPORT_MAX_BYTES = env_int("CHAT_DIALOGUE_IMPORT_MAX_BYTES", 20 * 1024 * 1024)
CHAT_FINETUNE_MIN_DIALOGUES = env_int("CHAT_FINETUNE_MIN_DIALOGUES", 20)
CHAT_EVAL_MAX_DIALOGUES = env_int("CHAT_EVAL_MAX_DIALOGUES", 200)
CHAT_INCREMENTAL_FINETUNE_SCHEDULE_SECONDS = env_int("CHAT_INCREMENTAL_FINETUNE_SCHEDULE_SECONDS", 24 * 3600)
CHAT_INCREMENTAL_MAX_CONVERSATIONS = env_int("CHAT_INCREMENTAL_MAX_CONVERSATIONS", 1000)
CHAT_INCREMENTAL_MIN_EXAMPLES = env_int("CHAT_INCREMENTAL_MIN_EXAMPLES", 8)
CHAT_REPLAY_MAX_DIALOGUES = env_int("CHAT_REPLAY_MAX_DIALOGUES", 2000)

# Chat (chat/conversations/, chat/replies/, chat/api): the API waits up to CHAT_REPLY_WAIT_SECONDS for a reply
# before answering 202; a reply still pending after CHAT_REPLY_STALE_SECONDS is queued again, and one not done
# after CHAT_REPLY_GIVE_UP_SECONDS ends failed with a polite fallback. Replies decoded together are batched
# (up to CHAT_BATCH_MAX_SIZE, gathered for CHAT_BATCH_WAIT_MS). Widget rate limits use the cache: Redis when
# REDIS_URL is set (shared by every web process), else per-process memory.
CHAT_REPLY_WAIT_SECONDS = float(env_str("CHAT_REPLY_WAIT_SECONDS", "60"))
CHAT_REPLY_STALE_SECONDS = env_int("CHAT_REPLY_STALE_SECONDS", 60)
CHAT_REPLY_GIVE_UP_SECONDS = env_int("CHAT_REPLY_GIVE_UP_SECONDS", 180)
CHAT_MESSAGE_MAX_CHARS = env_int("CHAT_MESSAGE_MAX_CHARS", 2000)
CHAT_REPLY_MAX_CHARS = env_int("CHAT_REPLY_MAX_CHARS", 1200)
CHAT_REPLY_MAX_NEW_TOKENS = env_int("CHAT_REPLY_MAX_NEW_TOKENS", 160)
CHAT_PROMPT_CHAR_BUDGET = env_int("CHAT_PROMPT_CHAR_BUDGET", 3000)
CHAT_RETRIEVAL_K = env_int("CHAT_RETRIEVAL_K", 5)
# A question that is clearly one FAQ (MiniLM cosine >= the minimum, ahead of every other retrieved item by the
# margin) is answered with that FAQ's own answer instead of a generated one; CHAT_FAQ_ANSWER_MIN_COSINE=off
# turns this off.
CHAT_FAQ_ANSWER_MIN_COSINE = (
    None
    if env_str("CHAT_FAQ_ANSWER_MIN_COSINE", "0.5") == "off"
    else float(env_str("CHAT_FAQ_ANSWER_MIN_COSINE", "0.5"))
)
CHAT_FAQ_ANSWER_MARGIN = float(env_str("CHAT_FAQ_ANSWER_MARGIN", "0.04"))
# Extractive-first answers (chat/replies/run.py, ml/engine/chat_grounding.direct_answer): when the best retrieved
# source scores at least CHAT_DIRECT_ANSWER_MIN_SCORE (fused retrieval score, 0-1), a product question is answered
# from the product's facts and a knowledge question with the item's relevant sentences, before any generation;
# CHAT_DIRECT_ANSWER_MIN_SCORE=off turns this off (every other question is generated, then verified).
CHAT_DIRECT_ANSWER_MIN_SCORE = (
    None
    if env_str("CHAT_DIRECT_ANSWER_MIN_SCORE", "0.5") == "off"
    else float(env_str("CHAT_DIRECT_ANSWER_MIN_SCORE", "0.5"))
)
CHAT_BATCH_MAX_SIZE = env_int("CHAT_BATCH_MAX_SIZE", 16)
CHAT_BATCH_WAIT_MS = env_int("CHAT_BATCH_WAIT_MS", 20)
CHAT_GENERATION_TIMEOUT_SECONDS = env_int("CHAT_GENERATION_TIMEOUT_SECONDS", 120)
CHAT_WIDGET_STARTS_PER_MINUTE = env_int("CHAT_WIDGET_STARTS_PER_MINUTE", 10)
CHAT_KNOWLEDGE_IMPORT_MAX_BYTES = env_int("CHAT_KNOWLEDGE_IMPORT_MAX_BYTES", 5 * 1024 * 1024)
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _REDIS_URL, "KEY_PREFIX": "sf"}
        if _REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
# The chat API shows conversation and message statuses side by side: one schema enum name each.
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update(
    {
        "ConversationStatusEnum": "chat.models.Conversation.Status",
        "ChatMessageStatusEnum": "chat.models.Message.Status",
        "ImportRunStatusEnum": "profiles.models.ImportRun.Status",
        "ImportRunKindEnum": "profiles.models.ImportRun.Kind",
        "EventTypeEnum": "profiles.models.EventType",
    }
)
