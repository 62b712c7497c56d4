"""Dependencies shared by the routes, as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from dtq.config import Settings
from dtq.models import JOB_ID_PATTERN
from dtq.queue import Engine, Shards


async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def get_shards(request: Request) -> Shards:
    shards: Shards = request.app.state.shards
    return shards


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


EngineDep = Annotated[Engine, Depends(get_engine)]  # the control shard's (see dtq.queue.shards)
ShardsDep = Annotated[Shards, Depends(get_shards)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
JobIdPath = Annotated[
    str, Path(pattern=JOB_ID_PATTERN, description="A job id: 1-64 letters, digits, _ or -.")
]
