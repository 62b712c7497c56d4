"""codes.py and _lib.lua hold one table of return codes: the same values on both sides, one
meaning each, and each error code mapped to exactly one DTQError."""

import re
from importlib import resources

from dtq.errors import DTQError
from dtq.queue.scripts import ERRORS, Code
from dtq.queue.scripts.library import script_names, script_source


def _lib() -> str:
    return resources.files("dtq.queue.scripts").joinpath("_lib.lua").read_text()


async def test_lua_sees_the_same_table_as_python(engine) -> None:
    lua = _lib() + "\nlocal out = {}\nfor k, v in pairs(C) do out[#out + 1] = k .. '=' .. v end\n"
    reply = await engine.redis.eval(lua + "return out", 0)
    in_lua = dict(item.split("=") for item in reply)
    assert {k: int(v) for k, v in in_lua.items()} == {c.name: c.value for c in Code}


def test_values_are_unique_and_errors_negative() -> None:
    values = [c.value for c in Code]
    assert len(values) == len(set(values))  # an IntEnum alias would hide a clash
    assert len(Code.__members__) == len(list(Code))
    assert set(ERRORS) == {c for c in Code if c < 0}


def test_each_error_code_maps_to_exactly_one_exception() -> None:
    errors = list(ERRORS.values())
    assert len(errors) == len(set(errors))
    assert all(issubclass(e, DTQError) and e is not DTQError for e in errors)


def test_scripts_return_codes_by_name_only() -> None:
    """No script returns a bare negative number: every code comes from C."""
    for name in script_names():
        source = script_source(name).split("\n", 1)[1]
        assert not re.search(r"return\s*\{?\s*-\d", source), name
