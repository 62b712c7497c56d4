// "Copy as curl" and "copy as SDK code": the request that submits the same job again.
import { API_BASE } from "../api/client";
import type { Job } from "../api/types";

function body(job: Job): Record<string, unknown> {
  const b: Record<string, unknown> = { task_type: job.task_type, payload: job.payload ?? {} };
  if (job.queue && job.queue !== "default") b.queue = job.queue;
  if (job.priority && job.priority !== "normal") b.priority = job.priority;
  b.max_retries = job.max_retries;
  if (job.timeout_s) b.timeout_s = job.timeout_s;
  return b;
}

export function asCurl(job: Job, origin: string): string {
  const base = /^https?:/.test(API_BASE) ? API_BASE : `${origin}${API_BASE}`;
  const json = JSON.stringify(body(job)).replace(/'/g, "'\\''");
  return `curl -sS -X POST '${base}/jobs' -H "Authorization: Bearer $DTQ_API_KEY" -H 'Content-Type: application/json' -d '${json}'`;
}

function py(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (Array.isArray(value)) return `[${value.map(py).join(", ")}]`;
  if (typeof value === "object") return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${py(v)}`).join(", ")}}`;
  return JSON.stringify(value);
}

export function asSdk(job: Job, origin: string): string {
  const b = body(job);
  const base = /^https?:/.test(API_BASE) ? API_BASE : `${origin}${API_BASE}`;
  const opts = Object.entries(b)
    .filter(([k]) => k !== "task_type" && k !== "payload")
    .map(([k, v]) => `, ${k}=${py(v)}`)
    .join("");
  return [
    "from dtq.client import DTQClient",
    "",
    `with DTQClient(${JSON.stringify(base)}) as dtq:  # api_key from DTQ_API_KEY`,
    `    job = dtq.submit(${JSON.stringify(job.task_type)}, ${py(b.payload)}${opts})`,
  ].join("\n");
}
