import { describe, expect, it } from "vitest";
import { apiQuery, filtersFrom, filtersTo, isJobId } from "./jobFilters";

describe("job filters", () => {
  it("round-trip through the URL, empty ones left out", () => {
    const f = filtersFrom(new URLSearchParams("status=dead&queue=emails&junk=1"));
    expect(f.status).toBe("dead");
    expect(f.task_type).toBe("");
    expect(filtersTo(f).toString()).toBe("status=dead&queue=emails");
  });

  it("become API parameters, times in UTC", () => {
    const f = filtersFrom(new URLSearchParams("priority=high&created_after=2026-01-02T03:04"));
    const q = apiQuery(f);
    expect(q.priority).toBe("high");
    expect(q.created_after).toBe(new Date("2026-01-02T03:04").toISOString());
    expect(apiQuery(filtersFrom(new URLSearchParams("created_before=garbage")))).toEqual({});
  });

  it("search by idempotency key alone", () => {
    const q = apiQuery(filtersFrom(new URLSearchParams("status=dead&find=order-42")));
    expect(q).toEqual({ idempotency_key: "order-42" });
  });

  it("tell job ids from other text", () => {
    expect(isJobId("a1_b-2")).toBe(true);
    expect(isJobId("order 42")).toBe(false);
    expect(isJobId("x".repeat(65))).toBe(false);
  });
});
