"""The Lua transitions and their typed Python faces.

Each `<name>.lua` is one atomic state transition with a header (purpose, KEYS, ARGV, returns);
`<name>.py` beside it is its only Python face: named arguments in, KEYS and ARGV built in one
place, a typed result out (errors raised from the one table in `codes.py`). `_lib.lua` is the
prelude every script is loaded with. A face returns a `Call`: await it, or add it to a `Batch`
to send several in one round trip.
"""

from dtq.queue.scripts.codes import ERRORS, Code, Outcome
from dtq.queue.scripts.library import Batch, Call, Library, run_all

__all__ = ["ERRORS", "Batch", "Call", "Code", "Library", "Outcome", "run_all"]
