// Sign in with an API key (a tenant's key or the admin key); kept in sessionStorage only.
import { useState, type FormEvent } from "react";
import { ApiError } from "../api/client";
import { identify, type Identity } from "../api/whoami";

export function Login({ onSignIn, expired }: { onSignIn: (key: string, identity: Identity) => void; expired: boolean }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(expired ? "Your key was refused: sign in again." : null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignIn(key.trim(), await identify(key.trim()));
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? "That key is not valid (wrong, revoked, or not this API's admin key)."
          : err instanceof ApiError && err.status === 0
            ? "The API cannot be reached."
            : String(err),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="login" onSubmit={submit}>
      <h1>DTQ dashboard</h1>
      <label>
        API key
        <input type="password" autoComplete="off" value={key} onChange={(e) => setKey(e.target.value)} placeholder="dtq_…" required />
      </label>
      <button type="submit" disabled={busy || !key.trim()}>
        {busy ? "Checking…" : "Sign in"}
      </button>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <p className="muted">A tenant's key shows its jobs; the admin key shows queues, workers and tenants.</p>
    </form>
  );
}
