import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { JobEvent } from "../api/types";
import { Timeline } from "./Timeline";
import { layout, segments } from "./timeline";

const at = (ms: number) => new Date(ms).toISOString();
const e = (status: string, ms: number, extra: Partial<JobEvent> = {}): JobEvent => ({
  status,
  at: at(ms),
  worker: null,
  attempt: 0,
  reason: null,
  error: null,
  traceback: null,
  ...extra,
} as JobEvent);

describe("segments", () => {
  it("makes each state last until the next event, and the last one open until now", () => {
    const s = segments([e("running", 1000), e("pending", 0)], 5000);
    expect(s.map((x) => [x.status, x.start, x.end, x.open])).toEqual([
      ["pending", 0, 1000, false],
      ["running", 1000, 5000, true],
    ]);
  });

  it("closes a final state at its own time", () => {
    const s = segments([e("pending", 0), e("running", 10), e("dead", 30)], 99_999);
    expect(s[2]).toMatchObject({ status: "dead", start: 30, end: 30, open: false });
  });

  it("lays segments out over the whole span, none narrower than the minimum", () => {
    const places = layout(segments([e("pending", 0), e("running", 900), e("succeeded", 1000)], 0));
    expect(places[0]).toEqual({ left: 0, width: 90 });
    expect(places[1]!.left).toBe(90);
    expect(places[2]).toEqual({ left: 98.5, width: 1.5 }); // an instant at the end stays in view
  });
});

describe("<Timeline>", () => {
  it("draws one bar per state and lists attempts with their workers", () => {
    const { container } = render(
      <Timeline
        now={10_000}
        events={[
          e("pending", 0),
          e("running", 100, { attempt: 1, worker: "w1" }),
          e("scheduled", 200, { attempt: 1, reason: "error" }),
          e("running", 1200, { attempt: 2, worker: "w2" }),
          e("succeeded", 1300, { attempt: 2 }),
        ]}
      />,
    );
    expect(container.querySelectorAll(".track .seg")).toHaveLength(5);
    expect(screen.getAllByText("running")).toHaveLength(2);
    expect(screen.getByText(/w2/)).toBeTruthy();
    expect(screen.getByText(/· error/)).toBeTruthy();
  });
});
