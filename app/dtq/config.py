"""Settings: one pydantic-settings object, every knob an environment variable."""

from __future__ import annotations

import math
import re
from enum import StrEnum
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dtq.errors import SettingsError

RATE_LIMIT_ITEM = re.compile(r"([A-Za-z0-9_.:-]{1,128})=([1-9][0-9]{0,6})/([smh])")
RATE_UNITS_MS = {"s": 1000, "m": 60_000, "h": 3_600_000}


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Every DTQ setting. Build it once in an entry point and pass it down."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    ENVIRONMENT: Environment = Environment.DEVELOPMENT
    LOG_LEVEL: str = "INFO"
    # json: one JSON object per line (dtq.logformat); text: for people; auto: json in production.
    LOG_FORMAT: Literal["auto", "json", "text"] = "auto"

    # Redis. Unset REDIS_URL means "start an embedded server" in run-dev.sh, tests and benchmarks.
    REDIS_URL: str | None = None
    REDIS_MAX_CONNECTIONS: int = Field(default=64, ge=4)
    # Replica-acknowledged writes: after each state-changing script, WAIT until this many
    # replicas have it (0: off; then a failover may lose the last writes, see the README).
    REPLICA_ACKS: int = Field(default=0, ge=0, le=16)
    REPLICA_ACK_TIMEOUT_MS: int = Field(default=1000, ge=1, le=60_000)
    EMBEDDED_REDIS_DIR: str = ".dtq"

    # Key layout.
    KEY_PREFIX: str = Field(default="dtq", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    SHARD: str = Field(default="0", pattern=r"^[A-Za-z0-9]{1,16}$")
    # Shards one logical queue spreads over (each its own hash tag, so its own Cluster slot);
    # each tenant is placed on one. It can grow but never shrink: a process started with a
    # smaller number than the data has refuses to run (see the README's "Shards").
    SHARDS: int = Field(default=1, ge=1, le=64)
    # Spread the `default` tenant's jobs (AUTH_DISABLED, internal callers) over the shards there
    # are when it is first on (stored, fixed), each on the shard its id hashes to, as tenants
    # created with `spread` are (see "Shards"). On for good.
    SPREAD_DEFAULT: bool = False
    JOB_STREAM: str = Field(default="stream", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    DLQ_STREAM: str = Field(default="dlq", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    CONSUMER_GROUP: str = Field(default="workers", pattern=r"^[A-Za-z0-9_.-]{1,64}$")

    # Retries and delivery.
    MAX_RETRIES: int = Field(default=3, ge=0, le=1000)
    INITIAL_BACKOFF_MS: int = Field(default=1000, ge=1)
    MAX_BACKOFF_MS: int = Field(default=60_000, ge=1)
    VISIBILITY_TIMEOUT_MS: int = Field(default=30_000, ge=100)
    MAX_DELIVERIES: int = Field(default=5, ge=1)
    # Retention of finished jobs, per queue unless a queue has its own policy (PUT
    # /queues/{name}/retention): succeeded and canceled jobs are kept at most RESULT_TTL_S, and a
    # queue keeps at most this many of each (-1: no count limit); the oldest go first. Dead jobs
    # stay until retried or deleted. A removed job's id is remembered (GET answers 410) among the
    # newest REMOVED_IDS_KEPT.
    RESULT_TTL_S: int = Field(default=86_400, ge=1)
    KEEP_SUCCEEDED: int = Field(default=100_000, ge=-1)
    KEEP_CANCELED: int = Field(default=10_000, ge=-1)
    REMOVED_IDS_KEPT: int = Field(default=100_000, ge=0, le=10_000_000)
    MAX_PAYLOAD_BYTES: int = Field(default=1_048_576, ge=16)
    EVENTS_MAXLEN: int = Field(default=10_000, ge=100)
    IDEMPOTENCY_TTL_S: int = Field(default=86_400, ge=1)

    # Execution rate limits per task type, shared by all workers: "send_email=100/m,resize=10/s".
    RATE_LIMITS: str = ""

    # Worker.
    WORKER_CONCURRENCY: int = Field(default=100, ge=1, le=10_000)
    WORKER_TASK_MODULES: str = ""
    # dtq.demo_tasks (noop, echo, sleep, fail, flaky, cpu) is refused in production unless set.
    ALLOW_DEMO_TASKS: bool = False
    SHUTDOWN_GRACE_S: float = Field(default=10.0, ge=0)
    PROMOTE_INTERVAL_MS: int = Field(default=50, ge=5)
    HEARTBEAT_INTERVAL_S: float = Field(default=5.0, gt=0)
    # Each worker's Prometheus metrics on this port (0: not served); several workers on one host
    # need a port each.
    WORKER_METRICS_PORT: int = Field(default=0, ge=0, le=65535)
    WORKER_METRICS_HOST: str = "127.0.0.1"
    HOUSEKEEPING_INTERVAL_S: float = Field(default=60.0, gt=0)

    # HTTP control plane.
    HOST: str = "127.0.0.1"
    PORT: int = Field(default=8000, ge=0, le=65535)
    # API processes on HOST:PORT (uvicorn workers sharing the socket); one per core at most.
    API_WORKERS: int = Field(default=1, ge=1, le=64)
    # How long the API keeps an idle HTTP connection: longer than the idle timeout of any proxy
    # in front (nginx's upstream keepalive 30 s, an ALB's 60 s), or the proxy sends a request on
    # a connection the API is closing and gets a reset.
    HTTP_KEEPALIVE_S: int = Field(default=75, ge=1, le=3600)
    # Whose X-Forwarded-For/-Proto the API believes (the client address in logs and limits):
    # the proxies in front of it, comma-separated IPs or networks; "*" only where nothing else
    # can reach the API (Render's private network).
    FORWARDED_ALLOW_IPS: str = "127.0.0.1"
    FRONTEND_ORIGIN: str = "http://localhost:5173"
    MAX_REQUEST_BYTES: int = Field(default=16 * 1024 * 1024, ge=1024)
    MAX_JSON_DEPTH: int = Field(default=32, ge=2, le=256)
    # The request line and headers together; more is refused with 431 while it is being read.
    MAX_HEADER_BYTES: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)
    # A request (line, headers and body) must arrive within this many seconds of its first
    # byte, and a new connection must start one within it: 408 and closed otherwise.
    REQUEST_TIMEOUT_S: float = Field(default=30.0, gt=0, le=3600)
    # /docs, /redoc and /openapi.json: served unless false; unset means off in production.
    API_DOCS: bool | None = None
    # The live feed (GET /ws): bytes of events buffered per client; a client further behind gets
    # a resync instead (and is dropped when it is not reading at all).
    FEED_BUFFER_BYTES: int = Field(default=4 * 1024 * 1024, ge=64 * 1024, le=1024 * 1024 * 1024)
    # OpenTelemetry traces (also on when OTEL_EXPORTER_OTLP_ENDPOINT is set; OTEL_* configure
    # the exporter). TRACING_FILE: write spans as JSON lines to this file instead of OTLP.
    TRACING_ENABLED: bool = False
    TRACING_FILE: str | None = None
    # GET /metrics: behind the admin key (Prometheus sends it as a bearer token) unless this is
    # true, for an API whose port only the scraper can reach. Queue gauges come from Redis at
    # most once per METRICS_CACHE_S, whatever the number of API instances scraped.
    METRICS_PUBLIC: bool = False
    METRICS_CACHE_S: float = Field(default=5.0, ge=0, le=300)
    # Stats history for the dashboard's charts: one sample every this many seconds.
    HISTORY_SAMPLE_S: float = Field(default=5.0, gt=0, le=10)

    # Tenants and API keys. AUTH_DISABLED serves one `default` tenant without keys (development
    # only: the API refuses to start that way with ENVIRONMENT=production).
    AUTH_DISABLED: bool = False
    ADMIN_API_KEY: SecretStr | None = None
    # An API process remembers a key it has found valid for this many seconds (0: it looks every
    # key up). A key revoked, or a tenant's limits changed, through another process takes effect
    # here within this time; through this one, at once.
    AUTH_CACHE_S: float = Field(default=1.0, ge=0, le=60)
    # Submission rate limit per tenant (token bucket shared by every API instance); a tenant's
    # own limits override these.
    RATE_LIMIT_PER_SECOND: float = Field(default=100.0, gt=0, le=1_000_000)
    RATE_LIMIT_BURST: int = Field(default=200, ge=1, le=10_000_000)
    # Execution with keys on: tenants share the workers by weight (default 1), and no tenant has
    # more than this many jobs dispatched at once across all workers (0: no cap). A tenant's own
    # max_concurrency and weight override these.
    TENANT_MAX_CONCURRENCY: int = Field(default=0, ge=0, le=1_000_000)
    # Schedules a tenant may have. Together they may not fire faster than the tenant's
    # submission rate, and each firing takes its jobs from the tenant's rate limit.
    SCHEDULES_PER_TENANT: int = Field(default=100, ge=0, le=100_000)

    @model_validator(mode="after")
    def _check_cross_field(self) -> Self:
        if self.MAX_BACKOFF_MS < self.INITIAL_BACKOFF_MS:
            raise ValueError("MAX_BACKOFF_MS must be >= INITIAL_BACKOFF_MS")
        self.rate_limits  # noqa: B018 - validates RATE_LIMITS
        return self

    @property
    def rate_limits(self) -> dict[str, int]:
        """RATE_LIMITS as task type -> whole milliseconds between two starts on one shard
        (rounded up): with SHARDS=n, each shard spaces them n times as far apart, so that
        together they never pass the rate."""
        limits = {}
        for item in filter(None, (part.strip() for part in self.RATE_LIMITS.split(","))):
            match = RATE_LIMIT_ITEM.fullmatch(item)
            if not match:
                raise ValueError(f"RATE_LIMITS item {item!r} is not like name=10/s")
            name, count, unit = match.groups()
            limits[name] = max(1, math.ceil(RATE_UNITS_MS[unit] * self.SHARDS / int(count)))
        return limits

    @property
    def api_docs(self) -> bool:
        """Whether the API serves its docs and OpenAPI document (API_DOCS, else not in
        production)."""
        if self.API_DOCS is None:
            return self.ENVIRONMENT != Environment.PRODUCTION
        return self.API_DOCS

    @property
    def dev_routes(self) -> bool:
        """Whether /dev/* is served: only when ENVIRONMENT=development was set explicitly."""
        return (
            self.ENVIRONMENT == Environment.DEVELOPMENT and "ENVIRONMENT" in self.model_fields_set
        )

    @property
    def json_logs(self) -> bool:
        """Whether log lines are JSON (LOG_FORMAT, auto: in production)."""
        if self.LOG_FORMAT == "auto":
            return self.ENVIRONMENT == Environment.PRODUCTION
        return self.LOG_FORMAT == "json"

    @property
    def lease_interval_s(self) -> float:
        """How often a worker renews the leases of its running jobs (well inside the timeout)."""
        return self.VISIBILITY_TIMEOUT_MS / 1000 / 3

    @property
    def task_modules(self) -> list[str]:
        """WORKER_TASK_MODULES as a list of module names."""
        return [m.strip() for m in self.WORKER_TASK_MODULES.split(",") if m.strip()]


# Secrets that ship in examples and docs: never accepted in production.
KNOWN_DEFAULT_SECRETS = frozenset(
    {"", "admin", "changeme", "change-me", "secret", "password", "dev-admin-key", "dtq"}
)
MIN_SECRET_CHARS = 32


def production_problems(settings: Settings) -> list[str]:
    """Why these settings must not serve production traffic (empty outside production)."""
    if settings.ENVIRONMENT != Environment.PRODUCTION:
        return []
    problems = []
    if settings.AUTH_DISABLED:
        problems.append("AUTH_DISABLED=true is for development only")
    admin = settings.ADMIN_API_KEY.get_secret_value() if settings.ADMIN_API_KEY else None
    if admin is not None and (
        admin.lower() in KNOWN_DEFAULT_SECRETS or len(admin) < MIN_SECRET_CHARS
    ):
        problems.append(
            f"ADMIN_API_KEY is a default or shorter than {MIN_SECRET_CHARS} characters "
            "(make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return problems


def load_service_settings() -> Settings:
    """Settings for the API or a worker process: from the environment, with REDIS_URL set."""
    try:
        settings = Settings()
    except ValidationError as exc:
        raise SettingsError(f"invalid settings:\n{exc}") from exc
    if not settings.REDIS_URL and settings.ENVIRONMENT != Environment.PRODUCTION:
        url = _development_server_url(settings)
        if url:
            return settings.model_copy(update={"REDIS_URL": url})
    if not settings.REDIS_URL:
        raise SettingsError(
            "REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0; for development, `dtq redis` "
            "or ./run-dev.sh start a server, which these commands then find by themselves)"
        )
    return settings


def _development_server_url(settings: Settings) -> str | None:
    """The URL the development server of EMBEDDED_REDIS_DIR (run-dev.sh's, `dtq redis`'s)
    wrote while it runs, if any."""
    url_file = Path(settings.EMBEDDED_REDIS_DIR) / "redis" / "url"
    try:
        return url_file.read_text().strip() or None
    except OSError:
        return None


def configure_logging(level: str, settings: Settings | None = None, **static: str) -> None:
    """One log format for every DTQ process: JSON lines (LOG_FORMAT=json, or auto in
    production; `static` fields on every line) or text: time, level, logger, key=value message."""
    import logging

    if settings is not None and settings.json_logs:
        from dtq.logformat import JsonFormatter

        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter(static))
        logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
        return
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
