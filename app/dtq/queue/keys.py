"""Every Redis key DTQ uses, built in one place and tagged with the shard."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from dtq.config import Settings
from dtq.models import DEFAULT_QUEUE, DEFAULT_TENANT, PRIORITY_ORDER, Priority


def index_directory(index: str) -> str:
    """The directory of a job index's buckets (dtq.queue.job_index; _lib.lua's
    keyname.index_dir)."""
    return f"{index}#"


def index_bucket(index: str, bucket: str) -> str:
    """Bucket `bucket` of a job index ('': the index's own zset, from before buckets)."""
    return f"{index}#{bucket}" if bucket else index


@dataclass(frozen=True, slots=True)
class QueueKeys:
    """Key names of one named queue: its job streams (one per priority level), its tenants'
    lanes and its pause state. `default` lives at the shard's base (the names DTQ always had);
    another queue lives under `<base>:queue:<name>`. _lib.lua's keyname.queue builds the same
    names for scripts that route jobs of several queues (a test checks they agree)."""

    name: str
    root: str
    stream_name: str

    @property
    def stream(self) -> str:
        """The job stream of the `normal` priority level."""
        return f"{self.root}:{self.stream_name}"

    def stream_for(self, priority: Priority) -> str:
        """The job stream of one priority level (`normal` keeps the plain name)."""
        if priority is Priority.NORMAL:
            return self.stream
        return f"{self.stream}:{priority.value}"

    def finished(self, kind: str) -> str:
        """List of this queue's finished jobs of `kind` (succeeded, canceled) kept by
        retention, "<finish ms> <stored id>", oldest first."""
        return f"{self.root}:finished:{kind}"

    @property
    def running_field(self) -> str:
        """The stats hash's field counting this queue's running jobs (_lib.lua's running_field:
        its pending entries do not, a shared entry naming a run of jobs)."""
        return f"running@{self.stream}"

    @property
    def streams(self) -> tuple[str, ...]:
        """Every job stream, highest priority first (the order scripts take them in)."""
        return tuple(self.stream_for(p) for p in PRIORITY_ORDER)

    @property
    def lanes(self) -> str:
        """Sorted set of the tenants with jobs waiting in this queue's lanes, score = virtual time.

        `<lanes>:<tenant>:<level>` lists a tenant's waiting job ids per priority level (1-4) and
        `<lanes>:<tenant>:running` holds a capped tenant's dispatched, unsettled ones (see
        _lib.lua).
        """
        return f"{self.root}:lanes"

    # lane, running, bell, capped and job are also built in Lua (_lib.lua's keyname), from the
    # lanes key and the job prefix the scripts are given; a test checks the two agree.
    def lane(self, tenant: str, level: int) -> str:
        """The list of a tenant's jobs waiting to be dispatched, of one level (0 critical .. 3)."""
        return f"{self.lanes}:{tenant}:{level + 1}"

    def running(self, tenant: str) -> str:
        """Set of a capped tenant's dispatched jobs of this queue that have not settled (its
        count against its concurrency cap, which holds per queue; an uncapped tenant's take no
        slot)."""
        return f"{self.lanes}:{tenant}:running"

    @property
    def bell(self) -> str:
        """While a `bell` entry is out to wake a blocked worker, "<entry id> <stream>" of the
        last one rung (see _lib.lua's ring)."""
        return f"{self.lanes}:bell"

    @property
    def capped(self) -> str:
        """Exists while a tenant's jobs wait on its concurrency cap, as the last read that loaded
        every tenant saw it: settles that free a slot then ring the bell (see _lib.lua's
        wake_lanes)."""
        return f"{self.lanes}:capped"

    @property
    def paused(self) -> str:
        """Exists while the queue is paused: no worker starts its jobs."""
        return f"{self.root}:paused"

    @property
    def held(self) -> str:
        """List of the jobs a worker read while the queue was paused, to go back on resume."""
        return f"{self.root}:held"

    def line(self, partition_key: str) -> str:
        """The line of one partition key: its jobs' ids in submission order (see _lib.lua).
        The key is hashed (SHA-1), never put in a name."""
        return f"{self.root}:pk:{hashlib.sha1(partition_key.encode()).hexdigest()}"


@dataclass(frozen=True, slots=True)
class Keys:
    """Key names for one queue shard. The `{shard}` hash tag keeps a script's keys on one slot."""

    prefix: str
    shard: str = "0"
    stream_name: str = "stream"
    dlq_name: str = "dlq"

    @classmethod
    def from_settings(cls, settings: Settings, shard: str | None = None) -> Keys:
        """Keys for `shard` (a hash tag; default the one the settings name)."""
        return cls(
            settings.KEY_PREFIX, shard or settings.SHARD, settings.JOB_STREAM, settings.DLQ_STREAM
        )

    @property
    def base(self) -> str:
        return f"{self.prefix}:{{{self.shard}}}"

    @property
    def guard(self) -> str:
        """A key that never exists, declared last by every script call (library.Call): while
        the shard's slot is migrating key by key, the server refuses (TRYAGAIN) any call that
        declares a key it lacks, so no script runs while the slot's keys are split over two
        nodes. Nothing may ever write it."""
        return f"{self.base}:guard"

    def queue(self, name: str = DEFAULT_QUEUE) -> QueueKeys:
        """The keys of one named queue."""
        root = self.base if name == DEFAULT_QUEUE else f"{self.base}:queue:{name}"
        return QueueKeys(name, root, self.stream_name)

    @property
    def queues(self) -> str:
        """Set of the names of the queues in use (besides `default`, which always is)."""
        return f"{self.base}:queues"

    @property
    def tasks(self) -> str:
        """Hash of every task type a worker has ever served: name -> its queue."""
        return f"{self.base}:tasks"

    # The default queue's keys, which tools and tests use most.
    @property
    def stream(self) -> str:
        """The `normal` job stream of the default queue."""
        return self.queue().stream

    def stream_for(self, priority: Priority) -> str:
        """A job stream of the default queue."""
        return self.queue().stream_for(priority)

    @property
    def streams(self) -> tuple[str, ...]:
        """Every job stream of the default queue, highest priority first."""
        return self.queue().streams

    @property
    def dlq(self) -> str:
        """The dead-letter stream."""
        return f"{self.base}:{self.dlq_name}"

    @property
    def delayed(self) -> str:
        """Sorted set of scheduled job ids, score = due time in ms (Redis clock)."""
        return f"{self.base}:delayed"

    @property
    def index(self) -> str:
        """The default tenant's job index (dtq.queue.job_index: buckets of ids, score = a
        unique, increasing creation sequence (µs) over the shard). A named tenant's jobs are in
        its own (tenant_index) only; before 2026-11-27 they were in both, so a scan of this
        one may meet them."""
        return f"{self.base}:jobs"

    @property
    def retention(self) -> str:
        """Hash of queues' own retention policies: queue -> CSV (see dtq.queue.retention)."""
        return f"{self.base}:retention"

    @property
    def gone(self) -> str:
        """Sorted set of the ids of jobs retention removed (the newest, capped), score = ms."""
        return f"{self.base}:gone"

    def tenant_index(self, tenant: str) -> str:
        """The job index of one tenant, the only one holding its jobs (`default`, the unnamed
        tenant, uses `index`)."""
        return self.index if tenant == DEFAULT_TENANT else f"{self.index}:{tenant}"

    def indexes(self, tenants: Iterable[str]) -> list[str]:
        """Every job index of the shard: the default tenant's, then each of `tenants`' (the
        names in the shard's tenants hash); each job is in exactly one of them."""
        return list(dict.fromkeys([self.index, *(self.tenant_index(t) for t in tenants)]))

    @property
    def stats(self) -> str:
        """Hash of counters: totals and the number of jobs in each live status."""
        return f"{self.base}:stats"

    @property
    def events(self) -> str:
        """Capped stream of state transitions."""
        return f"{self.base}:events"

    @property
    def history_fine(self) -> str:
        """Capped stream of counter samples, one per 5 s (the last hour)."""
        return f"{self.base}:history:5s"

    @property
    def history_coarse(self) -> str:
        """Capped stream of counter samples, one per minute (the last day)."""
        return f"{self.base}:history:1m"

    @property
    def workers(self) -> str:
        """Sorted set of worker names, score = last heartbeat in ms (Redis clock)."""
        return f"{self.base}:workers"

    @property
    def shared_readers(self) -> str:
        """Sorted set of the workers that read shared stream entries (a tenant's run as one
        entry), scored as in `workers`: older builds' workers are in `workers` only."""
        return f"{self.base}:workers:shared"

    @property
    def shared_entries_on(self) -> str:
        """Up while every live worker reads shared entries (heartbeat.lua): read.lua writes a
        tenant's run as one entry only then, an entry per job otherwise."""
        return f"{self.base}:shared_entries"

    @property
    def schedules(self) -> str:
        """Hash of recurring schedules: name -> definition (JSON)."""
        return f"{self.base}:schedules"

    @property
    def schedule_budgets(self) -> str:
        """Hash of each tenant's schedule budget in use: <tenant>:count, <tenant>:per_hour."""
        return f"{self.base}:schedules:budgets"

    @property
    def schedule_rates(self) -> str:
        """Hash of schedule names -> firings in the schedule's busiest hour."""
        return f"{self.base}:schedules:rates"

    @property
    def schedules_due(self) -> str:
        """Sorted set of schedule names, score = next fire time in ms (Redis clock)."""
        return f"{self.base}:schedules:due"

    @property
    def cancel_channel(self) -> str:
        """Pub/sub channel on which the ids of canceled running jobs are published."""
        return f"{self.base}:cancel"

    @property
    def dependency_outbox(self) -> str:
        """Sorted set of finished parents whose dependents await release, score = finish ms."""
        return f"{self.base}:deps:outbox"

    @property
    def housekeeping_lock(self) -> str:
        """Held by the worker running housekeeping (one at a time)."""
        return f"{self.base}:lock:housekeeping"

    def job(self, job_id: str) -> str:
        """The hash holding one job's state."""
        return f"{self.job_prefix}{job_id}"

    def children(self, job_id: str) -> str:
        """Set of the ids of jobs waiting on this job."""
        return f"{self.base}:children:{job_id}"

    def rate_slot(self, task_type: str) -> str:
        """The next free start slot of a task type's rate limit (from configuration)."""
        return f"{self.base}:rate:{task_type}"

    def idempotency(self, tenant: str, key: str) -> str:
        """The record of one tenant's idempotency key. The key is hashed, never put in a name."""
        digest = hashlib.sha256(f"{tenant}\n{key}".encode()).hexdigest()
        return f"{self.base}:idem:{digest}"

    @property
    def tenants(self) -> str:
        """Hash of tenants: name -> definition (JSON)."""
        return f"{self.base}:tenants"

    @property
    def shard_count(self) -> str:
        """The number of shards chosen at setup (on the first shard; see dtq.queue.shards)."""
        return f"{self.base}:shards"

    @property
    def spread_default(self) -> str:
        """Set once `default` was spread over the shards (on the first shard; SPREAD_DEFAULT)."""
        return f"{self.base}:spread-default"

    @property
    def api_keys(self) -> str:
        """Hash of API keys: key id -> {tenant, SHA-256 of the key, created_at} (JSON)."""
        return f"{self.base}:apikeys"

    @property
    def lanes(self) -> str:
        """The default queue's lanes (see QueueKeys.lanes)."""
        return self.queue().lanes

    def lane(self, tenant: str, level: int) -> str:
        """A tenant's lane of one level in the default queue."""
        return self.queue().lane(tenant, level)

    def running(self, tenant: str) -> str:
        """A tenant's running set in the default queue."""
        return self.queue().running(tenant)

    @property
    def bell(self) -> str:
        """The default queue's bell."""
        return self.queue().bell

    @property
    def job_prefix(self) -> str:
        """What every job hash's name starts with (for scripts that find jobs by id)."""
        return f"{self.base}:job:"

    def submit_bucket(self, tenant: str) -> str:
        """A tenant's submission token bucket (tenant names are validated, never user text)."""
        return f"{self.base}:bucket:{tenant}"

    def worker(self, name: str) -> str:
        """The hash describing one live worker (expires when it stops heartbeating)."""
        return f"{self.base}:worker:{name}"
