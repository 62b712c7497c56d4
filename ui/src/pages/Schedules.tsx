// Schedules: list with the next run, create, delete.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { del, post, get } from "../api/client";
import type { Schedule, ScheduleCreate, ScheduleList } from "../api/types";
import { ErrorBox, Loading } from "../components/Status";
import { clock } from "../format";
import { checkPayload } from "./payload";

export function Schedules() {
  const queryClient = useQueryClient();
  const list = useQuery({ queryKey: ["schedules"], queryFn: () => get<ScheduleList>("/schedules"), refetchInterval: 10_000 });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["schedules"] });
  const create = useMutation({ mutationFn: (s: ScheduleCreate) => post<Schedule>("/schedules", s), onSuccess: refresh });
  const remove = useMutation({ mutationFn: (name: string) => del(`/schedules/${encodeURIComponent(name)}`), onSettled: refresh });
  const [form, setForm] = useState({ name: "", cron: "*/5 * * * *", task_type: "", payload: "{}", timezone: "UTC" });
  const check = checkPayload(form.payload);
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (check.ok) create.mutate({ name: form.name, cron: form.cron, task_type: form.task_type, payload: check.value, timezone: form.timezone } as ScheduleCreate);
  };

  return (
    <>
      <h1>Schedules</h1>
      {list.isPending ? (
        <Loading />
      ) : list.isError ? (
        <ErrorBox error={list.error} />
      ) : list.data.count === 0 ? (
        <p className="muted">No schedules yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>Cron</th>
              <th>Task type</th>
              <th>Next run</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.data.data.map((s) => (
              <tr key={s.name} data-schedule={s.name}>
                <td>{s.name}</td>
                <td>
                  <code>{s.cron}</code> {s.timezone}
                </td>
                <td>{s.task_type}</td>
                <td>{clock(s.next_run_at)}</td>
                <td>
                  <button type="button" onClick={() => window.confirm(`Delete schedule ${s.name}?`) && remove.mutate(s.name)}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form className="submit" onSubmit={submit} aria-label="new schedule">
        <h2>New schedule</h2>
        <label>
          Name <input value={form.name} onChange={set("name")} required />
        </label>
        <label>
          Cron <input value={form.cron} onChange={set("cron")} required />
        </label>
        <label>
          Time zone <input value={form.timezone} onChange={set("timezone")} />
        </label>
        <label>
          Task type <input value={form.task_type} onChange={set("task_type")} required />
        </label>
        <label>
          Payload (JSON) <textarea rows={4} value={form.payload} onChange={set("payload")} aria-invalid={!check.ok} />
        </label>
        {!check.ok && <p className="error">{check.error}</p>}
        <button type="submit" disabled={!check.ok || create.isPending}>
          Create
        </button>
        {create.isError && <ErrorBox error={create.error} />}
        {remove.isError && <ErrorBox error={remove.error} />}
      </form>
    </>
  );
}
