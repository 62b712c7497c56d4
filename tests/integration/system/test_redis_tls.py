"""DTQ over TLS (`rediss://`) with a password: the API and a worker, as real processes, against a
redis-server that accepts TLS only, with a certificate from a CA made for this test."""

from __future__ import annotations

import secrets
import shutil
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import trustme
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from dtq.config import Settings
from dtq.embedded_redis import free_port
from tests.conftest import Processes, wait_for

PASSWORD = secrets.token_urlsafe(16)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """A redis-server listening on TLS only; yields its port and the CA certificate's path."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("needs Debian's redis-server (built with TLS); .ci/run installs it")
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    cert.cert_chain_pems[0].write_to_path(str(folder / "server.pem"))
    cert.private_key_pem.write_to_path(str(folder / "server.key"))
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port", "0",
            "--tls-port", str(port),
            "--tls-cert-file", str(folder / "server.pem"),
            "--tls-key-file", str(folder / "server.key"),
            "--tls-ca-cert-file", str(folder / "ca.pem"),
            "--tls-auth-clients", "no",
            "--requirepass", PASSWORD,
            "--save", "",
            "--appendonly", "no",
            "--dir", str(folder),
        ],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    probe = Redis(
        host="127.0.0.1",
        port=port,
        password=PASSWORD,
        ssl=True,
        ssl_ca_certs=str(folder / "ca.pem"),
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            probe.ping()
            break
        except RedisConnectionError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.05)
    probe.close()
    yield port, folder / "ca.pem"
    proc.kill()
    proc.wait()


def test_plain_connections_and_unverified_certificates_are_refused(
    tls_server: tuple[int, Path],
) -> None:
    port, _ = tls_server
    with pytest.raises(RedisConnectionError):
        Redis(host="127.0.0.1", port=port, password=PASSWORD, socket_timeout=2).ping()
    unverified = Redis(  # the system's CAs do not know this test's CA
        host="127.0.0.1", port=port, password=PASSWORD, ssl=True, ssl_cert_reqs="required"
    )
    with pytest.raises(RedisConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        unverified.ping()
    assert ssl.OPENSSL_VERSION  # the check above ran over OpenSSL


async def test_api_and_worker_run_jobs_over_rediss(
    tls_server: tuple[int, Path], make_settings: Callable[..., Settings], processes: Processes
) -> None:
    port, ca = tls_server
    url = f"rediss://:{PASSWORD}@127.0.0.1:{port}/0?ssl_ca_certs={ca}&ssl_cert_reqs=required"
    settings = make_settings(REDIS_URL=url)
    processes.worker(settings, "--name", "tls-worker")
    api = processes.api(settings)
    async with httpx.AsyncClient(base_url=api, timeout=10) as http:
        jobs = [{"task_type": "echo", "payload": {"n": i}} for i in range(20)]
        ids = (await http.post("/jobs/batch", json={"jobs": jobs})).json()["ids"]

        async def done() -> bool:
            got = [(await http.get(f"/jobs/{i}")).json()["status"] for i in ids]
            return got == ["succeeded"] * len(ids)

        await wait_for(done, timeout=20)
        result = (await http.get(f"/jobs/{ids[3]}/result")).json()
        assert result["result"] == {"n": 3}
