"""deploy/nginx in front of real API processes, on Debian's nginx: `nginx -t`, the dashboard's
caching and headers, the body limit, forwarded headers, and which requests go to a second API
instance when the first fails (GET, and POST only with an Idempotency-Key)."""

from __future__ import annotations

import http.client
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from deploy.local.nginx import LocalNginx
from deploy.nginx.render import NAMES, TEMPLATE, api_servers, render
from dtq.config import Settings
from dtq.embedded_redis import free_port
from tests.conftest import Processes

UI = Path(__file__).resolve().parents[2] / "ui" / "dist"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A stand-in for ui/dist: an index page and one hashed asset."""
    (tmp_path / "ui" / "assets").mkdir(parents=True)
    (tmp_path / "ui" / "index.html").write_text("<!doctype html><title>DTQ</title>")
    (tmp_path / "ui" / "assets" / "index-3f9a.js").write_text("console.log('dtq');" * 200)
    return tmp_path / "ui"


@pytest.fixture
def nginx_factory(tmp_path: Path, site: Path) -> Iterator[Callable[..., LocalNginx]]:
    made: list[LocalNginx] = []

    def make(apis: list[str], **kw: int) -> LocalNginx:
        nginx = LocalNginx(tmp_path / f"nginx{len(made)}", free_port(), apis, site, **kw)
        made.append(nginx)
        nginx.start()
        return nginx

    yield make
    for nginx in made:
        nginx.stop()


@pytest.fixture
def dropper() -> Iterator[str]:
    """An upstream that takes the connection, reads the request and closes without answering
    (an API instance dying mid-request)."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    conn.recv(65536)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    server.close()


def test_template_names_are_the_renderers() -> None:
    assert set(re.findall(r"\$\{(DTQ_[A-Z_]+)\}", TEMPLATE.read_text())) == set(NAMES)
    with pytest.raises(ValueError, match="DTQ_UI_ROOT"):
        render({"DTQ_LISTEN": "80", "DTQ_API_SERVERS": "server a:1;", "DTQ_MAX_BODY_BYTES": "1"})
    assert api_servers(["a:1", "b:2"], frozenset({"b:2"})) == (
        "server a:1 max_fails=1 fail_timeout=2s; server b:2 down max_fails=1 fail_timeout=2s;"
    )


def test_nginx_t_passes(tmp_path: Path, site: Path) -> None:
    nginx = LocalNginx(tmp_path, free_port(), ["127.0.0.1:8001", "127.0.0.1:8002"], site)
    checked = nginx.test()
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr


def test_dashboard_caching_headers_and_body_limit(
    nginx_factory: Callable[..., LocalNginx],
    make_settings: Callable[..., Settings],
    processes: Processes,
) -> None:
    settings = make_settings(AUTH_DISABLED=True, MAX_REQUEST_BYTES=4096)
    api = processes.api(settings).removeprefix("http://")
    nginx = nginx_factory([api], max_body_bytes=4096)
    with httpx.Client(base_url=nginx.url) as http:
        page = http.get("/jobs/some-id")  # a dashboard route: the app's page
        assert page.status_code == 200 and "<title>DTQ" in page.text
        assert page.headers["cache-control"] == "no-cache"
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["x-frame-options"] == "DENY"
        assert "default-src 'self'" in page.headers["content-security-policy"]
        asset = http.get("/assets/index-3f9a.js", headers={"accept-encoding": "gzip"})
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert asset.headers["content-encoding"] == "gzip"
        # the API's answers: through /api/, gzipped when large, no dashboard policy on them
        raw = http.get("/api/openapi.json", headers={"accept-encoding": "gzip"})
        assert raw.headers["content-encoding"] == "gzip"
        assert raw.json()["info"]["title"] == "DTQ"
        assert "content-security-policy" not in raw.headers
        assert "cache-control" not in raw.headers
        too_big = http.post("/api/jobs", content=b"x" * 5000)
        assert too_big.status_code == 413
        assert too_big.json()["code"] == "request_too_large"
        ok = http.post("/api/jobs", json={"task_type": "noop"})
        assert ok.status_code == 201


def test_post_goes_to_a_second_instance_only_with_an_idempotency_key(
    nginx_factory: Callable[..., LocalNginx],
    make_settings: Callable[..., Settings],
    processes: Processes,
    dropper: str,
) -> None:
    settings = make_settings(AUTH_DISABLED=True)
    api = processes.api(settings).removeprefix("http://")
    # each case on a fresh nginx: the dying instance is listed first, so it gets the request
    with httpx.Client(base_url=nginx_factory([dropper, api]).url) as http:
        assert http.get("/api/health/ready").status_code == 200
    with httpx.Client(base_url=nginx_factory([dropper, api]).url) as http:
        lost = http.post("/api/jobs", json={"task_type": "noop", "payload": {"n": 1}})
        assert lost.status_code == 503, lost.text
        assert lost.json()["code"] == "api_unavailable"
        assert lost.headers["retry-after"] == "1"
    with httpx.Client(base_url=nginx_factory([dropper, api]).url) as http:
        kept = http.post(
            "/api/jobs", json={"task_type": "noop"}, headers={"Idempotency-Key": "order-1"}
        )
        assert kept.status_code == 201, kept.text
    with httpx.Client(base_url=f"http://{api}") as http:
        # only the keyed submission reached the live API: the other was never replayed
        assert http.get("/jobs").json()["count"] == 1
        assert http.get("/jobs", params={"idempotency_key": "order-1"}).json()["count"] == 1


def _client_in_log(log: Path) -> str:
    """The client address of the last `POST /jobs` access line (a refused one: successful
    submissions are counted, not logged a line each)."""
    lines = [line for line in log.read_text().splitlines() if '"POST /jobs' in line]
    assert lines, log.read_text()
    return lines[-1].split(" - ")[0].split()[-1].rsplit(":", 1)[0]


def test_forwarded_headers_believed_from_the_proxy_only(
    nginx_factory: Callable[..., LocalNginx],
    make_settings: Callable[..., Settings],
    processes: Processes,
    tmp_path: Path,
) -> None:
    settings = make_settings(AUTH_DISABLED=True)
    forged = {"X-Forwarded-For": "203.0.113.7"}
    behind = tmp_path / "behind.log"
    api = processes.api(settings, log=behind).removeprefix("http://")
    nginx = nginx_factory([api])
    httpx.post(f"{nginx.url}/api/jobs", json={"task_type": ""}, headers=forged)  # 422
    assert _client_in_log(behind) == "203.0.113.7"  # nginx (127.0.0.1) is trusted
    exposed = tmp_path / "exposed.log"
    url = processes.api(settings, log=exposed, FORWARDED_ALLOW_IPS="192.0.2.1")
    httpx.post(f"{url}/jobs", json={"task_type": ""}, headers=forged)
    assert _client_in_log(exposed) == "127.0.0.1"  # the caller is no trusted proxy


def test_api_keeps_idle_connections_longer_than_nginx(
    make_settings: Callable[..., Settings], processes: Processes
) -> None:
    """nginx reuses idle upstream connections for up to its keepalive_timeout; the API must not
    close them first (uvicorn's default is 5 s), or a reused connection gets reset."""
    nginx_idle = int(re.search(r"keepalive_timeout (\d+)s;", TEMPLATE.read_text()).group(1))
    settings = make_settings(AUTH_DISABLED=True)
    assert settings.HTTP_KEEPALIVE_S > max(nginx_idle, 60)  # and an ALB's default 60 s
    host, port = processes.api(settings).removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request("GET", "/health/live")
        assert conn.getresponse().read().startswith(b'{"status":"ok"')
        first = conn.sock
        time.sleep(6)  # past uvicorn's default keep-alive
        conn.request("GET", "/health/live")  # on the same connection, or RemoteDisconnected
        assert conn.getresponse().status == 200 and conn.sock is first
    finally:
        conn.close()
