import { describe, expect, it } from "vitest";
import type { Job } from "../api/types";
import { asCurl, asSdk } from "./snippets";

const job = {
  id: "j1",
  task_type: "send_email",
  payload: { to: "o'brien@example.com", urgent: true, cc: null },
  queue: "emails",
  priority: "high",
  max_retries: 3,
  timeout_s: null,
} as unknown as Job;

describe("snippets", () => {
  it("quote a payload with a single quote safely for the shell", () => {
    const curl = asCurl(job, "http://localhost:5173");
    expect(curl).toContain("'http://localhost:5173/api/jobs'");
    expect(curl).toContain(`o'\\''brien`);
  });

  it("write Python literals for the SDK call", () => {
    const code = asSdk(job, "http://localhost:5173");
    expect(code).toContain(`dtq.submit("send_email", {"to": "o'brien@example.com", "urgent": True, "cc": None}, queue="emails", priority="high", max_retries=3)`);
  });
});
