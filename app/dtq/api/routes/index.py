"""GET /: where to go from here (the API docs, health, the stats)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

router = APIRouter(tags=["index"])


class Index(BaseModel):
    """Links to the control plane's entry points."""

    name: str = "DTQ"
    docs: str = "/docs"
    openapi: str = "/openapi.json"
    health: str = "/health/ready"
    stats: str = "/stats"
    queues: str = "/queues"


@router.get("/")
async def index() -> Index:
    """This API's entry points: the interactive docs at /docs, the schema, health, stats."""
    return Index()
