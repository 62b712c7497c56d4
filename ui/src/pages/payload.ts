// The Submit form's JSON payload check, before anything is sent.

export type PayloadCheck = { ok: true; value: Record<string, unknown> } | { ok: false; error: string };

/** A payload must be a JSON object (empty text means {}). */
export function checkPayload(text: string): PayloadCheck {
  if (!text.trim()) return { ok: true, value: {} };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: `not JSON: ${(e as Error).message}` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { ok: false, error: "the payload must be a JSON object, e.g. {\"to\": \"ada@example.com\"}" };
  }
  return { ok: true, value: value as Record<string, unknown> };
}
