// How the dashboard writes times, durations and numbers.

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "–";
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

export function clock(at: string | number | null | undefined): string {
  if (at === null || at === undefined) return "–";
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? "–" : d.toLocaleString();
}

export function ago(at: string | number | null | undefined, now = Date.now()): string {
  if (at === null || at === undefined) return "–";
  const ms = now - new Date(at).getTime();
  return ms < 0 ? "just now" : `${duration(ms)} ago`;
}

export function count(n: number | null | undefined): string {
  return n === null || n === undefined ? "–" : n.toLocaleString("en-US");
}
