"""DTQ under load: Locust users for each scenario (scripts/load.sh picks them).

    SubmitUser       single POST /jobs with an Idempotency-Key, nothing else (the HTTP figure)
    SubmitPollUser   single POST /jobs with an Idempotency-Key, then poll the job to its end
    BatchUser        POST /jobs/batch of 10 keyed jobs (one sleeps 300 ms)
    ReplayUser       the same Idempotency-Key twice: the second answer must name the same job
    ReaderUser       a tenant's dashboard reads: GET /jobs, /dlq, /tenant
    TenantUser       several tenants' keys against their rate limits (429 is expected, counted
                     as "429 expected", not as a failure)
    FeedUser         a dashboard's live feed (/ws): reads events, reconnects with its last
                     event id when the server goes away (a rollout), fails if it cannot

--host is the API's base URL: http://127.0.0.1:8080/api through nginx, or http://127.0.0.1:8000
straight to an API process. Environment:
    DTQ_API_KEY          Bearer key for every user but TenantUser (unset: no key)
    DTQ_TENANT_KEYS      comma-separated keys for TenantUser
    DTQ_USER_RATE        tasks per second per user (default 2)
    DTQ_LOAD_RECORD      a directory: each process writes ledger-<pid>.txt ("key job_id" per
                         submitted job) and requests-<pid>.csv (time, name, ms, ok) there
"""

from __future__ import annotations

import itertools
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any, TextIO

from locust import FastHttpUser, constant_throughput, events, task
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

RATE = float(os.environ.get("DTQ_USER_RATE", "2"))
TERMINAL = {"succeeded", "dead", "canceled"}
RECORD = os.environ.get("DTQ_LOAD_RECORD")
_files: dict[str, TextIO] = {}


def _record(kind: str, line: str) -> None:
    if not RECORD:
        return
    if kind not in _files:
        ext = "txt" if kind == "ledger" else "csv"
        _files[kind] = (Path(RECORD) / f"{kind}-{os.getpid()}.{ext}").open("a", buffering=1)
    _files[kind].write(line + "\n")


def _on_request(name: str, response_time: float, exception: Any, **_: Any) -> None:
    _record("requests", f"{time.time():.3f},{name},{response_time:.1f},{int(exception is None)}")


events.request.add_listener(_on_request)  # the files are line-buffered: nothing to close


def _headers(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


class DTQUser(FastHttpUser):
    abstract = True
    wait_time = constant_throughput(RATE)
    key: str | None = os.environ.get("DTQ_API_KEY") or None

    def submit(self, name: str = "POST /jobs", key: str | None = None) -> str | None:
        """One keyed submission; the job id (None when refused)."""
        idem = key or uuid.uuid4().hex
        headers = {**_headers(self.key), "Idempotency-Key": idem}
        body = {"task_type": "noop", "payload": {"ref": idem}}  # a replay sends the same body
        with self.client.post(
            "/jobs", json=body, headers=headers, name=name, catch_response=True
        ) as r:
            if r.status_code not in (200, 201):
                r.failure(f"{r.status_code}: {r.text[:200]}")
                return None
            job_id: str = r.json()["id"]
        _record("ledger", f"{idem} {job_id}")
        return job_id


class SubmitUser(DTQUser):
    @task
    def submit_only(self) -> None:
        self.submit()


class SubmitPollUser(DTQUser):
    @task
    def submit_and_poll(self) -> None:
        job_id = self.submit()
        if job_id is None:
            return
        for _ in range(100):
            r = self.client.get(
                f"/jobs/{job_id}", headers=_headers(self.key), name="GET /jobs/{id}"
            )
            if r.status_code != 200 or r.json().get("status") in TERMINAL:
                return
            time.sleep(0.1)


class BatchUser(DTQUser):
    @task
    def batch(self) -> None:
        keys = [uuid.uuid4().hex for _ in range(10)]
        jobs: list[dict[str, Any]] = [{"task_type": "noop", "idempotency_key": k} for k in keys]
        # one job in ten runs for 300 ms: a worker drained by SIGTERM has jobs in flight
        jobs[0] = {"task_type": "sleep", "payload": {"seconds": 0.3}, "idempotency_key": keys[0]}
        body = {"jobs": jobs}
        with self.client.post(
            "/jobs/batch", json=body, headers=_headers(self.key), catch_response=True
        ) as r:
            if r.status_code != 201:
                r.failure(f"{r.status_code}: {r.text[:200]}")
                return
            ids = r.json()["ids"]
        for key, job_id in zip(keys, ids, strict=True):
            _record("ledger", f"{key} {job_id}")


class ReplayUser(DTQUser):
    @task
    def replay(self) -> None:
        key = uuid.uuid4().hex
        first = self.submit("POST /jobs (first)", key)
        again = self.submit("POST /jobs (replay)", key)
        if first and again and again != first:
            events.request.fire(
                request_type="CHECK", name="replay names the same job", response_time=0,
                response_length=0, exception=AssertionError(f"{first} then {again}"), context={},
            )  # fmt: skip


class ReaderUser(DTQUser):
    @task(3)
    def jobs(self) -> None:
        self.client.get("/jobs?limit=20", headers=_headers(self.key), name="GET /jobs")

    @task
    def dlq(self) -> None:
        self.client.get("/dlq?limit=20", headers=_headers(self.key), name="GET /dlq")

    @task
    def usage(self) -> None:
        self.client.get("/tenant", headers=_headers(self.key), name="GET /tenant")


_tenant_keys = itertools.cycle([k for k in os.environ.get("DTQ_TENANT_KEYS", "").split(",") if k])


class TenantUser(DTQUser):
    def on_start(self) -> None:
        self.key = next(_tenant_keys, None)

    @task
    def submit_as_tenant(self) -> None:
        with self.client.post(
            "/jobs", json={"task_type": "noop"}, headers=_headers(self.key),
            name="POST /jobs (tenant)", catch_response=True,
        ) as r:  # fmt: skip
            if r.status_code == 429:
                r.success()
                events.request.fire(
                    request_type="RATE", name="429 expected", response_time=0,
                    response_length=0, exception=None, context={},
                )  # fmt: skip
            elif r.status_code != 201:
                r.failure(f"{r.status_code}: {r.text[:200]}")


class FeedUser(DTQUser):
    """A dashboard's live feed, held open 30 s at a time: "WS connect" is the time to the
    welcome; "WS closed by server" counts the closes a rollout causes (then it resumes)."""

    wait_time = constant_throughput(1000)
    last_event_id: str | None = None

    def _url(self) -> str:
        base = (self.host or "").removesuffix("/").removesuffix("/api")
        return base.replace("http", "ws", 1) + "/ws"

    @task
    def follow(self) -> None:
        start = time.monotonic()
        try:
            with connect(self._url(), open_timeout=10, close_timeout=1) as ws:
                ws.send(json.dumps({"key": self.key, "last_event_id": self.last_event_id}))
                welcome = json.loads(ws.recv(timeout=10))
                self._fire("WS connect", start, None if "tenant" in welcome else welcome)
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:  # events are not timed: they come when due
                    message = json.loads(ws.recv(timeout=20))
                    self.last_event_id = message.get("last_event_id", self.last_event_id)
                    for event in message.get("events", []):
                        self.last_event_id = event.get("id", self.last_event_id)
        except ConnectionClosed:  # a rollout (nginx's reload, an API's stop) closed it:
            # the dashboard reconnects and resumes from its last event id, and so does this
            self._fire("WS closed by server", time.monotonic(), None)
        except (OSError, TimeoutError) as exc:  # no connection, no welcome, or silence
            self._fire("WS connect", start, exc)

    def _fire(self, name: str, start: float, exception: Any) -> None:
        events.request.fire(
            request_type="WS", name=name, response_time=(time.monotonic() - start) * 1000,
            response_length=0, exception=exception, context={},
        )  # fmt: skip
