import { describe, expect, it } from "vitest";
import { checkPayload } from "./payload";

describe("checkPayload", () => {
  it("accepts an object, and empty text as {}", () => {
    expect(checkPayload('{"a": 1}')).toEqual({ ok: true, value: { a: 1 } });
    expect(checkPayload("  ")).toEqual({ ok: true, value: {} });
  });
  it("refuses broken JSON and non-objects with a reason", () => {
    const broken = checkPayload("{a: 1}");
    expect(broken.ok).toBe(false);
    expect(!broken.ok && broken.error).toMatch(/^not JSON/);
    expect(checkPayload("[1]")).toMatchObject({ ok: false, error: expect.stringMatching(/JSON object/) });
    expect(checkPayload("3")).toMatchObject({ ok: false });
  });
});
