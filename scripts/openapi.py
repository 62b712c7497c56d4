"""Write the API's OpenAPI schema to ui/openapi.json (the dashboard's types are generated from
it); --check exits 1 when the file on disk differs (CI fails when they drift)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "app"))

from dtq.api.main import create_app  # noqa: E402
from dtq.config import Settings  # noqa: E402

TARGET = ROOT / "ui" / "openapi.json"


def schema_text() -> str:
    """The schema of the development API (the dev routes included), as stable JSON."""
    app = create_app(Settings(REDIS_URL="redis://unused", AUTH_DISABLED=True))
    return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if ui/openapi.json is stale")
    args = parser.parse_args()
    text = schema_text()
    if args.check:
        if not TARGET.exists() or TARGET.read_text() != text:
            print(
                "ui/openapi.json is stale: run `python scripts/openapi.py && "
                "(cd ui && npm run gen:types)` and commit both",
                file=sys.stderr,
            )
            return 1
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
