"""DTQ: a distributed job orchestrator on Redis Streams."""
