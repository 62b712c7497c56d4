// Dead letters: why each died, its attempts and last error; filters; bulk retry by filter with
// a dry-run preview and a confirmation; delete.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router-dom";
import { del, get, post } from "../api/client";
import type { DeadLetterList, DeadLetterRetried, DeadLetterRetry } from "../api/types";
import { ErrorBox, Loading } from "../components/Status";
import { ago, count } from "../format";

const REASONS: NonNullable<DeadLetterRetry["reason"]>[] = ["retries_exhausted", "timeout", "poison", "invalid_payload", "invalid_result"];

export function DeadLetters() {
  const [params, setParams] = useSearchParams();
  const taskType = params.get("task_type") ?? "";
  const reason = params.get("reason") ?? "";
  const cursor = params.get("cursor") ?? "";
  const queryClient = useQueryClient();
  const list = useQuery({
    queryKey: ["dlq", taskType, reason, cursor],
    queryFn: () => get<DeadLetterList>("/dlq", { task_type: taskType, reason, cursor, limit: 100 }),
  });
  const filter: DeadLetterRetry = { task_type: taskType || null, reason: (reason || null) as DeadLetterRetry["reason"], limit: 10_000 } as DeadLetterRetry;
  const preview = useMutation({ mutationFn: () => post<DeadLetterRetried>("/dlq/retry", { ...filter, dry_run: true }) });
  const retryAll = useMutation({
    mutationFn: () => post<DeadLetterRetried>("/dlq/retry", { ...filter, dry_run: false }),
    onSuccess: () => {
      preview.reset();
      void queryClient.invalidateQueries({ queryKey: ["dlq"] });
    },
  });
  const retryOne = useMutation({
    mutationFn: (id: string) => post(`/dlq/${encodeURIComponent(id)}/retry`),
    onSettled: () => queryClient.invalidateQueries({ queryKey: ["dlq"] }),
  });
  const remove = useMutation({
    mutationFn: (id: string) => del(`/dlq/${encodeURIComponent(id)}`),
    onSettled: () => queryClient.invalidateQueries({ queryKey: ["dlq"] }),
  });
  const set = (k: string, v: string) => {
    const p = new URLSearchParams(params);
    if (v) p.set(k, v);
    else p.delete(k);
    p.delete("cursor");
    preview.reset();
    setParams(p);
  };

  return (
    <>
      <h1>Dead letters</h1>
      <div className="filters">
        <input key={taskType} aria-label="task type" placeholder="task type" defaultValue={taskType} onBlur={(e) => set("task_type", e.target.value.trim())} onKeyDown={(e) => e.key === "Enter" && set("task_type", (e.target as HTMLInputElement).value.trim())} />
        <select aria-label="reason" value={reason} onChange={(e) => set("reason", e.target.value)}>
          <option value="">any reason</option>
          {REASONS.map((r) => (
            <option key={r}>{r}</option>
          ))}
        </select>
        <button type="button" onClick={() => preview.mutate()} disabled={preview.isPending}>
          Retry all matching…
        </button>
      </div>
      {preview.data && (
        <div className="confirm" role="dialog" aria-label="confirm retry">
          <p>
            <strong data-testid="retry-preview">{count(preview.data.matched)} jobs will be retried</strong>
            {taskType || reason ? ` (task type ${taskType || "any"}, reason ${reason || "any"})` : " (every dead job)"}.
          </p>
          <button type="button" onClick={() => retryAll.mutate()} disabled={retryAll.isPending || preview.data.matched === 0}>
            Retry {count(preview.data.matched)} jobs
          </button>
          <button type="button" onClick={() => preview.reset()}>
            Cancel
          </button>
        </div>
      )}
      {retryAll.data && <p role="status">Retried {count(retryAll.data.retried)} jobs.</p>}
      {[preview, retryAll, retryOne, remove].map((m, i) => (m.isError ? <ErrorBox key={i} error={m.error} /> : null))}
      {list.isPending ? (
        <Loading />
      ) : list.isError ? (
        <ErrorBox error={list.error} />
      ) : list.data.count === 0 ? (
        <p className="muted">No dead letters{taskType || reason ? " match" : ""}.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Job</th>
              <th>Task type</th>
              <th>Reason</th>
              <th>Attempts</th>
              <th>Last error</th>
              <th>Died</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.data.data.map((d) => (
              <tr key={d.id} data-dead={d.id}>
                <td>
                  <Link to={`/jobs/${encodeURIComponent(d.id)}`}>{d.id}</Link>
                </td>
                <td>{d.task_type}</td>
                <td>{d.reason}</td>
                <td>{d.attempt}</td>
                <td className="clip" title={d.last_error ?? ""}>
                  {d.last_error}
                </td>
                <td>{ago(d.failed_at)}</td>
                <td>
                  <button type="button" onClick={() => retryOne.mutate(d.id)}>
                    Retry
                  </button>
                  <button type="button" onClick={() => window.confirm(`Delete dead job ${d.id} for good?`) && remove.mutate(d.id)}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {list.data?.next_cursor && (
        <button type="button" onClick={() => set("cursor", list.data.next_cursor ?? "")}>
          Older →
        </button>
      )}
    </>
  );
}
