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


class ResultNotReadyError(JobNotFoundError):
    """The job exists but has not finished, so it has no result yet."""

    code = "result_not_ready"


class InvalidTransitionError(DTQError):
    """The job's current status does not allow the requested change."""

    code = "invalid_transition"


class StaleOwnerError(DTQError):
    """A transition out of `running` came from an owner or attempt that no longer holds the job."""

    code = "stale_owner"


class DuplicateJobError(DTQError):
    """A job with that id exists already."""

    code = "duplicate_job"


class IdempotencyConflictError(DTQError):
    """An idempotency key was used before with a different request body."""

    code = "idempotency_conflict"


class UnknownParentError(DTQError):
    """A job names a parent in depends_on that does not exist (or has expired)."""

    code = "unknown_parent"


class DependencyCycleError(DTQError):
    """Jobs submitted together depend on each other in a cycle."""

    code = "dependency_cycle"


class PayloadTooLargeError(DTQError):
    """The job payload is larger than MAX_PAYLOAD_BYTES."""

    code = "payload_too_large"


class UnknownTaskError(DTQError):
    """No handler is registered for the job's task type on this worker."""

    code = "unknown_task"


class SettingsError(DTQError):
    """The environment does not make valid settings for a service."""

    code = "invalid_settings"


class EmbeddedRedisError(DTQError):
    """The embedded Redis/Valkey server could not be found or started."""

    code = "embedded_redis"
