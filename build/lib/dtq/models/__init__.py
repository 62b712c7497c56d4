"""The wire format shared by the API, the worker and the SDK: one module per domain.

Everything is re-exported here, so `from dtq.models import Job` keeps working.
"""

from dtq.models.common import (
    DEFAULT_TENANT,
    JOB_ID_PATTERN,
    MAX_DELAY_MS,
    MAX_PARENTS,
    MAX_TIMEOUT_S,
    PRIORITY_ORDER,
    TASK_TYPE_PATTERN,
    TENANT_PATTERN,
    DeadReason,
    IdempotencyKey,
    IsoText,
    JobId,
    JobStatus,
    JsonNumber,
    Priority,
    Problem,
    TaskType,
    TenantName,
)
from dtq.models.dev import (
    GeneratedJobs,
    GenerateJobs,
)
from dtq.models.dlq import (
    DeadLetter,
    DeadLetterList,
    DeadLetterRetried,
    DeadLetterRetry,
)
from dtq.models.health import (
    Health,
)
from dtq.models.jobs import (
    Job,
    JobBatchCreate,
    JobCreate,
    JobError,
    JobEvent,
    JobIds,
    JobList,
    JobResult,
    JobTimeline,
)
from dtq.models.schedules import (
    CRON_PATTERN,
    TIMEZONES,
    Misfire,
    Schedule,
    ScheduleCreate,
    ScheduleList,
)
from dtq.models.stats import (
    QueueStats,
)
from dtq.models.tenants import (
    ApiKeyCreated,
    ApiKeyInfo,
    ApiKeyList,
    Tenant,
    TenantCreate,
    TenantLimits,
    TenantList,
    TenantUsage,
)

__all__ = [
    "ApiKeyCreated",
    "ApiKeyInfo",
    "ApiKeyList",
    "CRON_PATTERN",
    "DEFAULT_TENANT",
    "DeadLetter",
    "DeadLetterList",
    "DeadLetterRetried",
    "DeadLetterRetry",
    "DeadReason",
    "GenerateJobs",
    "GeneratedJobs",
    "Health",
    "IdempotencyKey",
    "IsoText",
    "JOB_ID_PATTERN",
    "Job",
    "JobBatchCreate",
    "JobCreate",
    "JobError",
    "JobEvent",
    "JobId",
    "JobIds",
    "JobList",
    "JobResult",
    "JobStatus",
    "JobTimeline",
    "JsonNumber",
    "MAX_DELAY_MS",
    "MAX_PARENTS",
    "MAX_TIMEOUT_S",
    "Misfire",
    "PRIORITY_ORDER",
    "Priority",
    "Problem",
    "QueueStats",
    "Schedule",
    "ScheduleCreate",
    "ScheduleList",
    "TASK_TYPE_PATTERN",
    "TENANT_PATTERN",
    "TIMEZONES",
    "TaskType",
    "Tenant",
    "TenantCreate",
    "TenantLimits",
    "TenantList",
    "TenantName",
    "TenantUsage",
]
