// A job's timeline as drawable segments: each state lasts from its event to the next one.
import type { JobEvent } from "../api/types";

export interface Segment {
  status: string;
  start: number; // ms since epoch
  end: number;
  worker: string | null;
  attempt: number | null;
  reason: string | null;
  open: boolean; // still in this state
}

const FINAL = new Set(["succeeded", "dead", "canceled"]);

/** Segments of a job's events (oldest first), the last one open until `now` unless final. */
export function segments(events: JobEvent[], now: number): Segment[] {
  const sorted = [...events].sort((a, b) => new Date(a.at).getTime() - new Date(b.at).getTime());
  return sorted.map((e, i) => {
    const start = new Date(e.at).getTime();
    const next = sorted[i + 1];
    const final = FINAL.has(e.status);
    const end = next ? new Date(next.at).getTime() : final ? start : Math.max(now, start);
    return {
      status: e.status,
      start,
      end,
      worker: e.worker ?? null,
      attempt: e.attempt ?? null,
      reason: e.reason ?? null,
      open: !next && !final,
    };
  });
}

/** Horizontal placement (0-100 %) of each segment on a track spanning all of them; a segment
 * never narrower than `minPct` so an instant stays visible. */
export function layout(segs: Segment[], minPct = 1.5): { left: number; width: number }[] {
  if (segs.length === 0) return [];
  const t0 = segs[0]!.start;
  const t1 = Math.max(...segs.map((s) => s.end), t0 + 1);
  return segs.map((s) => {
    const width = Math.max(((s.end - s.start) / (t1 - t0)) * 100, minPct);
    return { left: Math.min(((s.start - t0) / (t1 - t0)) * 100, 100 - width), width };
  });
}
