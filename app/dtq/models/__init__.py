"""The wire format shared by the API, the worker and the SDK: one module per domain.

Everything is re-exported here, so `from dtq.models import Job` keeps working.
"""

from dtq.models.common import (
    DEFAULT_QUEUE,
    DEFAULT_TENANT,
    JOB_ID_PATTERN,
    MAX_DELAY_MS,
    MAX_PARENTS,
    MAX_TIMEOUT_S,
    PRIORITY_ORDER,
    QUEUE_PATTERN,
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
    QueueName,
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
from dtq.models.feed import (
    FeedEvent,
    FeedHello,
    FeedResync,
    FeedWelcome,
)
from dtq.models.health import (
    Health,
)
from dtq.models.history import (
    History,
    HistoryPoint,
)
from dtq.models.jobs import (
    Job,
    JobBatchCreate,
    JobCreate,
    JobCreated,
    JobError,
    JobEvent,
    JobIds,
    JobList,
    JobResult,
    JobTimeline,
)
from dtq.models.queues import (
    QueueInfo,
    QueueList,
    QueuePurged,
    QueueRetention,
    RetentionPolicy,
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
from dtq.models.workers import (
    WorkerInfo,
    WorkerList,
)

__all__ = [
    "CRON_PATTERN",
    "DEFAULT_QUEUE",
    "DEFAULT_TENANT",
    "JOB_ID_PATTERN",
    "MAX_DELAY_MS",
    "MAX_PARENTS",
    "MAX_TIMEOUT_S",
    "PRIORITY_ORDER",
    "QUEUE_PATTERN",
    "TASK_TYPE_PATTERN",
    "TENANT_PATTERN",
    "TIMEZONES",
    "ApiKeyCreated",
    "ApiKeyInfo",
    "ApiKeyList",
    "DeadLetter",
    "DeadLetterList",
    "DeadLetterRetried",
    "DeadLetterRetry",
    "DeadReason",
    "FeedEvent",
    "FeedHello",
    "FeedResync",
    "FeedWelcome",
    "GenerateJobs",
    "GeneratedJobs",
    "Health",
    "History",
    "HistoryPoint",
    "IdempotencyKey",
    "IsoText",
    "Job",
    "JobBatchCreate",
    "JobCreate",
    "JobCreated",
    "JobError",
    "JobEvent",
    "JobId",
    "JobIds",
    "JobList",
    "JobResult",
    "JobStatus",
    "JobTimeline",
    "JsonNumber",
    "Misfire",
    "Priority",
    "Problem",
    "QueueInfo",
    "QueueList",
    "QueueName",
    "QueuePurged",
    "QueueRetention",
    "RetentionPolicy",
    "QueueStats",
    "Schedule",
    "ScheduleCreate",
    "ScheduleList",
    "TaskType",
    "Tenant",
    "TenantCreate",
    "TenantLimits",
    "TenantList",
    "TenantName",
    "TenantUsage",
    "WorkerInfo",
    "WorkerList",
]
