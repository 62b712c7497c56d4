// The shell: who is signed in, the navigation, the API-down banner, and a route per view.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { NavLink, Navigate, Route, Routes } from "react-router-dom";
import { API_BASE, ApiError, session } from "./api/client";
import { identify, type Identity } from "./api/whoami";
import { ErrorBox, Loading } from "./components/Status";
import { FeedProvider, useFeed } from "./feed/FeedProvider";
import { IdentityContext, hasJobs, seesEverything } from "./identity";
import { DeadLetters } from "./pages/DeadLetters";
import { JobDetail } from "./pages/JobDetail";
import { Jobs } from "./pages/Jobs";
import { Login } from "./pages/Login";
import { Overview } from "./pages/Overview";
import { Schedules } from "./pages/Schedules";
import { Submit } from "./pages/Submit";
import { Tenants } from "./pages/Tenants";

export function App() {
  const queryClient = useQueryClient();
  const [key, setKey] = useState<string | null>(session.key());
  const who = useQuery<Identity, Error>({
    queryKey: ["identity", key],
    queryFn: () => identify(key),
    retry: (n, e) => !(e instanceof ApiError && e.status === 401) && n < 100,
    retryDelay: 2000,
    staleTime: Infinity,
  });

  const signIn = (k: string, identity: Identity) => {
    session.set(k);
    queryClient.setQueryData(["identity", k], identity);
    setKey(k);
  };
  const signOut = () => {
    session.clear();
    queryClient.clear();
    setKey(null);
  };

  if (who.isPending) return <Banner down={false} text="Connecting to the API…" />;
  if (who.isError) {
    const unauthorized = who.error instanceof ApiError && who.error.status === 401;
    if (!unauthorized) return <Banner down text={`The API at ${API_BASE} cannot be reached: retrying…`} />;
    return <Login onSignIn={signIn} expired={key !== null} />;
  }
  const identity = who.data;
  return (
    <IdentityContext.Provider value={identity}>
      <FeedProvider key={key ?? "none"}>
        <Shell identity={identity} onSignOut={signOut} />
      </FeedProvider>
    </IdentityContext.Provider>
  );
}

function Banner({ down, text }: { down: boolean; text: string }) {
  return (
    <div className={down ? "banner banner-down" : "banner"} role="status">
      {text}
    </div>
  );
}

function Shell({ identity, onSignOut }: { identity: Identity; onSignOut: () => void }) {
  const feed = useFeed();
  const jobs = hasJobs(identity);
  const all = seesEverything(identity);
  return (
    <div className="shell">
      <header>
        <strong className="brand">DTQ</strong>
        <nav>
          <NavLink to="/" end>Overview</NavLink>
          {jobs && <NavLink to="/jobs">Jobs</NavLink>}
          {jobs && <NavLink to="/submit">Submit</NavLink>}
          {jobs && <NavLink to="/dead-letters">Dead letters</NavLink>}
          {jobs && <NavLink to="/schedules">Schedules</NavLink>}
          {identity.role === "admin" && <NavLink to="/tenants">Tenants</NavLink>}
          <a href={`${API_BASE}/docs`} target="_blank" rel="noreferrer">API docs</a>
        </nav>
        <span className={`live live-${feed.connection}`} title={feed.reason ?? ""} data-testid="feed-state">
          {feed.connection === "live" ? "live" : feed.connection === "connecting" ? "connecting…" : "offline"}
        </span>
        <span className="who">{identity.role === "admin" ? "admin" : identity.role === "dev" ? "development (no auth)" : `tenant ${identity.tenant}`}</span>
        {identity.role !== "dev" && (
          <button type="button" onClick={onSignOut}>
            Log out
          </button>
        )}
      </header>
      {feed.connection === "down" && (
        <Banner down text={`Live updates paused: ${feed.reason ?? "the API cannot be reached"}. Reconnecting…`} />
      )}
      <main>
        <Routes>
          <Route path="/" element={<Overview />} />
          <Route path="/jobs" element={jobs ? <Jobs /> : <NoJobs />} />
          <Route path="/jobs/:id" element={jobs ? <JobDetail /> : <NoJobs />} />
          <Route path="/submit" element={jobs ? <Submit /> : <NoJobs />} />
          <Route path="/dead-letters" element={jobs ? <DeadLetters /> : <NoJobs />} />
          <Route path="/schedules" element={jobs ? <Schedules /> : <NoJobs />} />
          <Route path="/tenants" element={all ? <Tenants /> : <ErrorBox error="Tenants need the admin key." />} />
          <Route path="*" element={<Navigate to="/" replace />} />
        </Routes>
      </main>
    </div>
  );
}

function NoJobs() {
  return <p className="muted">Jobs belong to tenants: sign in with a tenant's API key to see and submit them.</p>;
}

export { Loading };
