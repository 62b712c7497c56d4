// The live feed's state: what the dashboard knows from events, folded in one pure function.
import type { FeedEvent, JobStatus } from "../api/types";

export type Connection = "connecting" | "live" | "down";

export interface FeedState {
  connection: Connection;
  lastEventId: string | null; // resume after this on reconnect
  /** The newest status of each job seen on the feed (bounded: the oldest are forgotten). */
  statuses: Map<string, { status: string; at: number; percent?: number | null }>;
  /** Events seen per status since the feed started (for live counters). */
  seen: Partial<Record<JobStatus | "progress", number>>;
  /** Bumped on `resync`: the dashboard reloads its data over HTTP. */
  resyncs: number;
  reason: string | null; // why the connection closed last
}

export type FeedMessage =
  | { type: "welcome"; tenant: string | null; resumed: boolean; last_event_id: string }
  | { type: "events"; events: FeedEvent[] }
  | { type: "resync"; reason: string }
  | { type: "ping" };

export type FeedAction =
  | { kind: "message"; message: FeedMessage }
  | { kind: "connection"; connection: Connection; reason?: string };

export const MAX_TRACKED = 20_000;

export function initialFeed(): FeedState {
  return { connection: "connecting", lastEventId: null, statuses: new Map(), seen: {}, resyncs: 0, reason: null };
}

/** Event ids order as (stream ms, stream seq, place in the entry). */
export function compareEventIds(a: string, b: string): number {
  const parse = (id: string) => {
    const [entry = "0-0", place = "0"] = id.split(".");
    const [ms = "0", seq = "0"] = entry.split("-");
    return [Number(ms), Number(seq), Number(place)];
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function feedReducer(state: FeedState, action: FeedAction): FeedState {
  if (action.kind === "connection") {
    return { ...state, connection: action.connection, reason: action.reason ?? state.reason };
  }
  const m = action.message;
  switch (m.type) {
    case "welcome":
      return {
        ...state,
        connection: "live",
        reason: null,
        lastEventId: state.lastEventId && m.resumed ? state.lastEventId : m.last_event_id,
      };
    case "resync":
      return { ...state, resyncs: state.resyncs + 1, statuses: new Map() };
    case "ping":
      return state;
    case "events": {
      if (m.events.length === 0) return state;
      const statuses = new Map(state.statuses);
      const seen = { ...state.seen };
      let last = state.lastEventId;
      for (const e of m.events) {
        if (last && compareEventIds(e.id, last) <= 0) continue; // a replay: already applied
        last = e.id;
        const key = e.status as JobStatus | "progress";
        seen[key] = (seen[key] ?? 0) + 1;
        const before = statuses.get(e.job_id);
        if (e.status === "progress") {
          statuses.set(e.job_id, { status: before?.status ?? "running", at: e.at, percent: e.percent });
        } else {
          statuses.delete(e.job_id); // re-insert: the Map keeps the newest last
          statuses.set(e.job_id, { status: e.status, at: e.at, percent: before?.percent ?? null });
        }
      }
      while (statuses.size > MAX_TRACKED) {
        const oldest = statuses.keys().next().value;
        if (oldest === undefined) break;
        statuses.delete(oldest);
      }
      return { ...state, statuses, seen, lastEventId: last };
    }
  }
}
