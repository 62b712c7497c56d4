"""GET /ws: the live event feed (per-job events of every job transition), for the dashboard.

The client's first message is a hello, `{"key": "<api key>", "last_event_id": "<id>"}` (the key
never travels in the URL; AUTH_DISABLED needs none); the server answers `welcome`. A tenant key
gets its tenant's events, the admin key every tenant's, in `{"type": "events", "events": [...]}`
messages of one or more per-job events (models.FeedEvent). With `last_event_id`, the events
after it follow first (or a `resync` message when they were trimmed), then live ones.
`{"type": "ping"}` comes every PING_S of quiet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from dtq.api.auth import is_admin_key
from dtq.api.feed import SLOW_CLIENT, Batch, Hub, Subscriber, frame
from dtq.config import Settings
from dtq.models import DEFAULT_TENANT, Tenant
from dtq.models.feed import FeedEvent, FeedHello, FeedResync, FeedWelcome
from dtq.queue import Engine, Position, Shards, TenantShards

logger = logging.getLogger(__name__)
router = APIRouter(tags=["feed"])

HELLO_TIMEOUT_S = 10.0
PING_S = 15.0
CLOSE_TIMEOUT_S = 2.0
POLICY = 1008  # WebSocket close code "policy violation"
BACKLOG_CHUNK = 500
FRAME_BYTES = 64 * 1024  # a frame carries buffered batches up to about this size
# A frame waits this long for more events, unless a full frame is buffered: under load one send
# carries many batches (a send per batch per client would cost the API more than the feed).
FRAME_INTERVAL_S = 0.1
STALL_CHECK_S = 0.5
LAST = 999999  # an index after a stream entry's last job


def with_feed_schemas(app: FastAPI) -> None:
    """Add the feed's messages to the OpenAPI components (WebSocket routes have no operation),
    so clients generate their types like every other model's."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = plain()
            _, defs = models_json_schema(
                [(m, "serialization") for m in (FeedEvent, FeedHello, FeedResync, FeedWelcome)],
                ref_template="#/components/schemas/{model}",
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(
                defs.get("$defs", {})
            )
        return app.openapi_schema or plain()

    app.openapi = openapi  # type: ignore[method-assign]


class Refused(Exception):
    """The hello is refused: close with POLICY and this reason."""


async def _scope(
    hello: FeedHello, settings: Settings, engine: Engine
) -> tuple[str | None, Tenant | None]:
    """The tenant whose events the client may see (None: every tenant), and its definition
    (None for `default` and for every tenant); Refused otherwise."""
    if settings.AUTH_DISABLED:
        return DEFAULT_TENANT, None
    if not hello.key:
        raise Refused('missing API key: send {"key": "<api key>"} as the first message')
    if is_admin_key(hello.key, settings):
        return None, None
    tenant = await engine.tenants.authenticate(hello.key)
    if tenant is None:
        raise Refused("invalid or revoked API key")
    return tenant.name, tenant


async def _hello(websocket: WebSocket) -> FeedHello:
    try:
        raw = await asyncio.wait_for(websocket.receive_text(), HELLO_TIMEOUT_S)
    except TimeoutError:
        raise Refused('no hello: send {"key": "<api key>"} as the first message') from None
    try:
        return FeedHello.model_validate_json(raw)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"]) or "message"
        raise Refused(f"invalid hello: {where}: {problem['msg']}"[:120]) from None


async def _send(websocket: WebSocket, message: object) -> None:
    if isinstance(message, BaseModel):
        message = message.model_dump(mode="json")
    await websocket.send_text(orjson.dumps(message).decode())


async def _trimmed(engine: Engine, last: Position) -> bool:
    """Whether events after `last` may have been trimmed from the stream."""
    first = await engine.events.first_entry_id()
    return first is not None and Position.parse(first)[:2] > last[:2]


async def _backlog(
    websocket: WebSocket, engine: Engine, subscriber: Subscriber, last: Position, cutoff: Position
) -> None:
    """Send the client's events after `last` up to `cutoff`, where its live ones begin."""
    position = last
    while position < cutoff:
        events, last_entry = await engine.events.since(position, BACKLOG_CHUNK)
        mine = [e for e in events if e.position <= cutoff]
        part = Batch(mine).part(subscriber.tenant)
        if part:
            await websocket.send_text(frame([part]))
        if last_entry is None or len(mine) < len(events):
            return
        position = Position.parse(last_entry)


async def _pump(websocket: WebSocket, subscriber: Subscriber) -> None:
    """Live events from the subscriber's buffer: a frame waits up to FRAME_INTERVAL_S for more
    unless FRAME_BYTES are buffered already (a `resync` first when some were coalesced away);
    a ping after PING_S of quiet."""
    while True:
        if not await subscriber.wait(PING_S):
            await _send(websocket, {"type": "ping"})
            continue
        if subscriber.buffered < FRAME_BYTES:
            await asyncio.sleep(FRAME_INTERVAL_S)  # what comes meanwhile joins this frame
        skipped, parts = subscriber.take(FRAME_BYTES)
        with subscriber.sending():
            if skipped:
                reason = f"{skipped} events skipped: the client fell behind; reload, then follow"
                await _send(websocket, FeedResync(reason=reason))
            if parts:
                await websocket.send_text(frame(parts))


async def _listen(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends, to notice it leaving."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()


async def _watch(subscriber: Subscriber) -> None:
    """Return once the subscriber is dropped (a stalled client, see Subscriber)."""
    while not subscriber.check_stalled() and not subscriber.dropped.is_set():
        await asyncio.sleep(STALL_CHECK_S)


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(websocket.close(code, reason), CLOSE_TIMEOUT_S)


async def _placed(
    shards: Shards, tenant: str | None, definition: Tenant | None
) -> TenantShards | None:
    """Where the tenant's jobs (and events) are; None for every tenant's."""
    if definition is not None:
        return shards.for_tenant(definition)  # known already: no lookup
    return None if tenant is None else await shards.locate(tenant)


@router.websocket("/ws")
async def feed(websocket: WebSocket) -> None:
    """The live event feed (see the module's docstring for the protocol)."""
    shards: Shards = websocket.app.state.shards
    settings: Settings = websocket.app.state.settings
    hubs: list[Hub] = websocket.app.state.hubs
    await websocket.accept()
    try:
        hello = await _hello(websocket)
        tenant, definition = await _scope(hello, settings, shards.control)
    except Refused as exc:
        await _close(websocket, POLICY, str(exc))
        return
    except WebSocketDisconnect:
        return
    # A tenant's events are on its shard (a spread tenant's on every shard, like every
    # tenant's).
    where = await _placed(shards, tenant, definition)
    everywhere = len(hubs) > 1 and (where is None or where.spread)
    engine = shards.of(definition)
    hub = hubs[shards.engines.index(engine)]
    subscriber = await hub.join(tenant)
    joined = [hub]
    tasks: list[asyncio.Task[Any]] = []
    try:
        if everywhere:
            for other in hubs[1:]:
                joined.append(other)
                await other.join(tenant, subscriber)
        cutoff = Position.parse(hub.position)
        last = Position.parse(hello.last_event_id) if hello.last_event_id else None
        resumed = last is not None and not everywhere and not await _trimmed(engine, last)
        await _send(
            websocket,
            FeedWelcome(tenant=tenant, resumed=resumed, last_event_id=f"{hub.position}.{LAST}"),
        )
        if last is not None and everywhere:
            reason = "these events come from several shards: reload, then follow"
            await _send(websocket, FeedResync(reason=reason))
        elif last is not None and not resumed:
            await _send(websocket, FeedResync(reason="events after last_event_id were trimmed"))
        elif last is not None:
            await _backlog(websocket, engine, subscriber, last, cutoff)
        tasks = [
            asyncio.create_task(_pump(websocket, subscriber)),
            asyncio.create_task(_listen(websocket)),
            asyncio.create_task(_watch(subscriber)),
        ]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if subscriber.dropped.is_set():
            logger.warning(
                "feed: dropped a slow client tenant=%s reason=%s", tenant, subscriber.reason
            )
            for t in tasks:
                t.cancel()
            await _close(websocket, SLOW_CLIENT, subscriber.reason[:120])
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for each in joined:
            await each.leave(subscriber)
