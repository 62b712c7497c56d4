import { describe, expect, it } from "vitest";
import type { FeedEvent } from "../api/types";
import { MAX_TRACKED, compareEventIds, feedReducer, initialFeed, type FeedState } from "./reducer";

const ev = (id: string, job: string, status: string, extra: Partial<FeedEvent> = {}): FeedEvent => ({
  type: "event",
  id,
  job_id: job,
  status,
  at: 1,
  worker: null,
  attempt: null,
  reason: null,
  percent: null,
  message: null,
  ...extra,
});

describe("feedReducer", () => {
  it("tracks each job's newest status and counts events by status", () => {
    let s = initialFeed();
    s = feedReducer(s, { kind: "message", message: { type: "welcome", tenant: "acme", resumed: false, last_event_id: "1-0.999999" } });
    expect(s.connection).toBe("live");
    s = feedReducer(s, {
      kind: "message",
      message: { type: "events", events: [ev("2-0.0", "a", "pending"), ev("2-0.1", "b", "pending"), ev("3-0.0", "a", "running")] },
    });
    expect(s.statuses.get("a")?.status).toBe("running");
    expect(s.statuses.get("b")?.status).toBe("pending");
    expect(s.seen).toEqual({ pending: 2, running: 1 });
    expect(s.lastEventId).toBe("3-0.0");
  });

  it("ignores events replayed at or before the last one applied (a resumed backlog)", () => {
    let s: FeedState = { ...initialFeed(), lastEventId: "5-0.3" };
    s = feedReducer(s, { kind: "message", message: { type: "events", events: [ev("5-0.2", "a", "succeeded"), ev("5-0.4", "b", "pending")] } });
    expect(s.statuses.has("a")).toBe(false);
    expect(s.statuses.get("b")?.status).toBe("pending");
  });

  it("keeps progress on a running job and the status on a progress event", () => {
    let s = initialFeed();
    s = feedReducer(s, { kind: "message", message: { type: "events", events: [ev("1-0.0", "a", "running"), ev("1-1.0", "a", "progress", { percent: 40 })] } });
    expect(s.statuses.get("a")).toMatchObject({ status: "running", percent: 40 });
  });

  it("counts a resync and forgets what it tracked", () => {
    let s = feedReducer(initialFeed(), { kind: "message", message: { type: "events", events: [ev("1-0.0", "a", "pending")] } });
    s = feedReducer(s, { kind: "message", message: { type: "resync", reason: "trimmed" } });
    expect(s.resyncs).toBe(1);
    expect(s.statuses.size).toBe(0);
  });

  it("keeps a welcome's position only when it did not resume", () => {
    const s: FeedState = { ...initialFeed(), lastEventId: "9-0.1" };
    const resumed = feedReducer(s, { kind: "message", message: { type: "welcome", tenant: null, resumed: true, last_event_id: "10-0.999999" } });
    expect(resumed.lastEventId).toBe("9-0.1");
    const fresh = feedReducer(s, { kind: "message", message: { type: "welcome", tenant: null, resumed: false, last_event_id: "10-0.999999" } });
    expect(fresh.lastEventId).toBe("10-0.999999");
  });

  it("forgets the oldest jobs beyond its bound", () => {
    const events = Array.from({ length: MAX_TRACKED + 5 }, (_, i) => ev(`1-0.${i}`, `j${i}`, "pending"));
    const s = feedReducer(initialFeed(), { kind: "message", message: { type: "events", events } });
    expect(s.statuses.size).toBe(MAX_TRACKED);
    expect(s.statuses.has("j0")).toBe(false);
  });
});

describe("compareEventIds", () => {
  it("orders by stream time, sequence, then place", () => {
    expect(compareEventIds("10-0.0", "9-5.9")).toBeGreaterThan(0);
    expect(compareEventIds("10-1.0", "10-0.9")).toBeGreaterThan(0);
    expect(compareEventIds("10-1.2", "10-1.10")).toBeLessThan(0);
    expect(compareEventIds("10-1.2", "10-1.2")).toBe(0);
  });
});
