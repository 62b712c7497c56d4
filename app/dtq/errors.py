"""The DTQError tree: every domain error DTQ raises derives from DTQError."""


class DTQError(Exception):
    """Base of every DTQ error."""

    code = "dtq_error"


class JobNotFoundError(DTQError):
    """No job with that id (or it has expired)."""

    code = "job_not_found"


class ScheduleNotFoundError(DTQError):
    """No schedule with that name."""

    code = "schedule_not_found"


class QueueNotFoundError(DTQError):
    """No queue with that name (no job was ever put in it and no worker listens to it)."""

    code = "queue_not_found"


class ConfirmationRequiredError(DTQError):
    """A destructive operation was asked for without its confirmation flag."""

    code = "confirmation_required"


class TenantNotFoundError(DTQError):
    """No tenant with that name."""

    code = "tenant_not_found"


class TenantExistsError(DTQError):
    """A tenant with that name exists already."""

    code = "tenant_exists"


class ApiKeyNotFoundError(DTQError):
    """No live API key with that id (never created, or revoked)."""

    code = "api_key_not_found"


class AuthenticationError(DTQError):
    """The request carries no API key, a malformed one, or one that is unknown or revoked."""

    code = "unauthorized"


class ForbiddenError(DTQError):
    """The key is valid but may not do this (e.g. a tenant key on an operator's view)."""

    code = "forbidden"


class RateLimitedError(DTQError):
    """The tenant's submission rate limit is spent; retry after `retry_after_s`."""

    code = "rate_limited"

    def __init__(
        self,
        message: str,
        retry_after_s: int = 1,
        headers: dict[str, str] | None = None,
        tenant: str = "",
    ) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.headers = headers or {}
        self.tenant = tenant


class BatchOverBurstError(DTQError):
    """A batch holds more jobs than the tenant's rate limit lets through at once."""

    code = "batch_over_burst"


class ResultNotReadyError(JobNotFoundError):
    """The job exists but has not finished, so it has no result yet."""

    code = "result_not_ready"


class InvalidTransitionError(DTQError):
    """The job's current status does not allow the requested change."""

    code = "invalid_transition"


class DuplicateJobError(DTQError):
    """A job with that id exists already."""

    code = "duplicate_job"


class IdempotencyConflictError(DTQError):
    """An idempotency key was used before with a different request body."""

    code = "idempotency_conflict"


class UnknownParentError(DTQError):
    """A job names a parent in depends_on that does not exist (or has expired)."""

    code = "unknown_parent"


class ShardPlacementError(DTQError):
    """Jobs that must share a shard (a batch, a job and its parents) of a tenant spread over
    several shards cannot: their chosen ids or parents belong to different shards."""

    code = "shard_placement"


class DependencyCycleError(DTQError):
    """Jobs submitted together depend on each other in a cycle."""

    code = "dependency_cycle"


class PayloadTooLargeError(DTQError):
    """The job payload is larger than MAX_PAYLOAD_BYTES."""

    code = "payload_too_large"


class InvalidPayloadError(DTQError):
    """The payload cannot be stored as JSON text (a string with a lone surrogate)."""

    code = "invalid_payload"


class UnknownTaskError(DTQError):
    """No handler is registered for the job's task type on this worker."""

    code = "unknown_task"


class SettingsError(DTQError):
    """The environment does not make valid settings for a service."""

    code = "invalid_settings"


class EmbeddedRedisError(DTQError):
    """The embedded Redis/Valkey server could not be found or started."""

    code = "embedded_redis"


class PortTakenError(EmbeddedRedisError):
    """The embedded server could not bind its port: something else took it first."""


class ReservedNameError(DTQError):
    """A name DTQ keeps for itself (the tenant `default`, which AUTH_DISABLED serves)."""

    code = "reserved_name"


class ScheduleLimitError(DTQError):
    """A tenant's schedules would be too many, or would fire faster than its rate limit."""

    code = "schedule_limit"


class TooManySchedulesError(ScheduleLimitError):
    """The tenant has as many schedules as SCHEDULES_PER_TENANT allows."""


class SchedulesTooFrequentError(ScheduleLimitError):
    """The tenant's schedules would together fire faster than its submission rate."""


class JobRemovedError(JobNotFoundError):
    """The job finished and its queue's retention policy removed it (GET answers 410)."""

    code = "job_removed"
