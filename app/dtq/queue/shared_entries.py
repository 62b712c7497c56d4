"""Shared stream entries a consumer holds: read.lua dispatches a tenant's run of jobs as one
entry, and the consumer acknowledges it once none of its jobs still runs there.

The scripts never ack a shared entry on their own (a job of it settling cannot know whether the
others have): the consumer counts the jobs of each entry it started, and the settle of the last
one acks the entry (Delivery.acks_entry). An entry none of whose jobs started here (all finished,
canceled, held, parked, rate limited or handed back) is acked right after the start. Anything
missed (a refused settle, a crash) leaves the entry pending: XAUTOCLAIM hands it to a consumer
later, whose start skips the finished jobs, runs the unfinished ones, and acks it in the end.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dtq.queue.delivery import Delivery, Entry

EntryKey = tuple[str, int, str]  # queue, level, entry id


class SharedEntries:
    """The jobs of each shared entry that run on one consumer."""

    def __init__(self) -> None:
        self._live: dict[EntryKey, set[str]] = {}

    def started(self, entries: Sequence[Entry], deliveries: Iterable[Delivery]) -> list[Entry]:
        """Count the jobs started from shared entries; the shared entries read that hold no job
        here now (to be acked), one Entry each."""
        for d in deliveries:
            if d.shared:
                self._live.setdefault(d.entry_key, set()).add(d.job_id)
        idle: dict[EntryKey, Entry] = {}
        for e in entries:
            if e.shared and e.entry_key not in self._live:
                idle[e.entry_key] = e
        return list(idle.values())

    def settling(self, deliveries: Iterable[Delivery]) -> None:
        """Decide whether settling each delivery acks its entry: yes for an entry of its own or
        for the last job of a shared one that runs here. Decided once (a retried settle keeps
        it)."""
        for d in deliveries:
            live = self._live.get(d.entry_key) if d.shared else None
            if live is None or d.job_id not in live:
                continue
            live.discard(d.job_id)
            if not live:
                del self._live[d.entry_key]
                d.acks_entry = True

    def dropped(self, d: Delivery) -> bool:
        """`d` stopped here without a settle (canceled while running): whether its entry is to
        be acked now (shared, and none of its other jobs runs here)."""
        live = self._live.get(d.entry_key) if d.shared else None
        if live is None or d.job_id not in live:
            return False
        live.discard(d.job_id)
        if live:
            return False
        del self._live[d.entry_key]
        return True
