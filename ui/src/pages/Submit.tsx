// Submit a job: task type, a JSON payload checked before sending, priority, queue, delay or
// run-at, idempotency key.
import { useMutation } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { post } from "../api/client";
import { PRIORITIES, type JobCreate, type JobCreated, type Priority } from "../api/types";
import { ErrorBox } from "../components/Status";
import { checkPayload } from "./payload";

export function Submit() {
  const [taskType, setTaskType] = useState("");
  const [payload, setPayload] = useState("{}");
  const [priority, setPriority] = useState<Priority>("normal");
  const [queue, setQueue] = useState("");
  const [when, setWhen] = useState<"now" | "delay" | "at">("now");
  const [delayS, setDelayS] = useState("10");
  const [runAt, setRunAt] = useState("");
  const [idemKey, setIdemKey] = useState("");
  const check = checkPayload(payload);
  const submit = useMutation({ mutationFn: (body: JobCreate) => post<JobCreated>("/jobs", body) });

  const send = (e: FormEvent) => {
    e.preventDefault();
    if (!check.ok) return;
    const body: JobCreate = { task_type: taskType.trim(), payload: check.value, priority } as JobCreate;
    if (queue.trim()) body.queue = queue.trim();
    if (when === "delay") body.delay_ms = Math.round(Number(delayS) * 1000);
    if (when === "at" && runAt) body.run_at = new Date(runAt).toISOString();
    if (idemKey.trim()) body.idempotency_key = idemKey.trim();
    submit.mutate(body);
  };

  return (
    <form className="submit" onSubmit={send}>
      <h1>Submit a job</h1>
      <label>
        Task type
        <input value={taskType} onChange={(e) => setTaskType(e.target.value)} required placeholder="send_email" />
      </label>
      <label>
        Payload (JSON)
        <textarea rows={8} value={payload} onChange={(e) => setPayload(e.target.value)} aria-invalid={!check.ok} spellCheck={false} />
      </label>
      {!check.ok && (
        <p className="error" role="alert">
          {check.error}
        </p>
      )}
      <label>
        Priority
        <select value={priority} onChange={(e) => setPriority(e.target.value as Priority)}>
          {PRIORITIES.map((p) => (
            <option key={p}>{p}</option>
          ))}
        </select>
      </label>
      <label>
        Queue (empty: the task type's)
        <input value={queue} onChange={(e) => setQueue(e.target.value)} placeholder="default" />
      </label>
      <fieldset>
        <legend>When</legend>
        <label>
          <input type="radio" checked={when === "now"} onChange={() => setWhen("now")} /> now
        </label>
        <label>
          <input type="radio" checked={when === "delay"} onChange={() => setWhen("delay")} /> in
          <input type="number" min={0} step="any" value={delayS} onChange={(e) => setDelayS(e.target.value)} disabled={when !== "delay"} /> s
        </label>
        <label>
          <input type="radio" checked={when === "at"} onChange={() => setWhen("at")} /> at
          <input type="datetime-local" value={runAt} onChange={(e) => setRunAt(e.target.value)} disabled={when !== "at"} />
        </label>
      </fieldset>
      <label>
        Idempotency key (optional)
        <input value={idemKey} onChange={(e) => setIdemKey(e.target.value)} />
      </label>
      <button type="submit" disabled={!check.ok || !taskType.trim() || submit.isPending}>
        Submit
      </button>
      {submit.isError && <ErrorBox error={submit.error} />}
      {submit.data && (
        <p role="status">
          Submitted <Link to={`/jobs/${encodeURIComponent(submit.data.id)}`}>{submit.data.id}</Link>
          {(submit.data.warnings ?? []).map((w) => (
            <span key={w} className="muted">
              {" "}
              · {w}
            </span>
          ))}
        </p>
      )}
    </form>
  );
}
