"""CorkedTransport (dtq.api.http_protocol): the writes of one turn of the event loop leave as one,
in order; closing or uncorking sends what is held first; nothing is written to a closing
transport."""

from __future__ import annotations

import asyncio

from dtq.api.http_protocol import CorkedTransport


class Recorder(asyncio.Transport):
    """A transport that keeps what it is asked to send."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.sent.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 1) if name == "peername" else default


async def test_writes_of_one_turn_leave_as_one_send() -> None:
    raw = Recorder()
    corked = CorkedTransport(raw, asyncio.get_running_loop())
    corked.write(b"HTTP/1.1 201 Created\r\n\r\n")
    corked.write(b"{}")
    assert raw.sent == []  # held until the turn ends
    await asyncio.sleep(0)
    assert raw.sent == [b"HTTP/1.1 201 Created\r\n\r\n{}"]
    corked.write(b"next")
    await asyncio.sleep(0)
    assert raw.sent[1:] == [b"next"]
    assert corked.get_extra_info("peername") == ("127.0.0.1", 1)  # the rest is the transport's


async def test_close_and_uncork_send_what_is_held_first() -> None:
    loop = asyncio.get_running_loop()
    raw = Recorder()
    corked = CorkedTransport(raw, loop)
    corked.write(b"a")
    corked.close()
    assert raw.sent == [b"a"] and raw.closed and corked.is_closing()
    await asyncio.sleep(0)
    assert raw.sent == [b"a"]  # the scheduled flush finds nothing more

    other = Recorder()
    corked = CorkedTransport(other, loop)
    corked.write(b"b")
    assert corked.uncork() is other and other.sent == [b"b"]


async def test_nothing_is_written_to_a_closing_transport() -> None:
    raw = Recorder()
    corked = CorkedTransport(raw, asyncio.get_running_loop())
    corked.write(b"late")
    raw.closed = True  # the peer went away meanwhile
    await asyncio.sleep(0)
    assert raw.sent == []
