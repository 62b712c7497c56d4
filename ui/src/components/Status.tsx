// Small shared pieces: a status badge, loading and error states.
import { ApiError } from "../api/client";

export function StatusBadge({ status }: { status: string }) {
  return (
    <span className={`badge badge-${status}`} data-status={status}>
      {status}
    </span>
  );
}

export function Loading({ what = "Loading" }: { what?: string }) {
  return (
    <p className="muted" role="status">
      {what}…
    </p>
  );
}

export function ErrorBox({ error }: { error: unknown }) {
  const text =
    error instanceof ApiError
      ? error.status === 0
        ? "The API cannot be reached."
        : `${error.detail} (HTTP ${error.status})`
      : String(error);
  return (
    <p className="error" role="alert">
      {text}
    </p>
  );
}
