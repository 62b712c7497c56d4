// The live feed for the whole dashboard: one WebSocket, reconnected with backoff, resumed after
// the last event seen; its events update the feed state and refresh the queries they touch.
import { useQueryClient } from "@tanstack/react-query";
import { createContext, useContext, useEffect, useReducer, useRef, type ReactNode } from "react";
import { feedUrl, session } from "../api/client";
import { feedReducer, initialFeed, type FeedMessage, type FeedState } from "./reducer";

const FeedContext = createContext<FeedState>(initialFeed());

/** The live feed's state (connection, last event, each job's newest status). */
export function useFeed(): FeedState {
  return useContext(FeedContext);
}

const REFRESH_MS = 1000; // queries touched by events are refetched at most this often
const MAX_BACKOFF_MS = 10_000;

export function FeedProvider({ children }: { children: ReactNode }) {
  const [state, dispatch] = useReducer(feedReducer, undefined, initialFeed);
  const queryClient = useQueryClient();
  const last = useRef<string | null>(null);
  last.current = state.lastEventId;

  useEffect(() => {
    let socket: WebSocket | null = null;
    let stopped = false;
    let attempt = 0;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let flush: ReturnType<typeof setTimeout> | undefined;
    const touched = new Set<string>();

    const refresh = (keys: string[]) => {
      keys.forEach((k) => touched.add(k));
      if (flush) return;
      flush = setTimeout(() => {
        flush = undefined;
        for (const k of touched) void queryClient.invalidateQueries({ queryKey: k.split("|") });
        touched.clear();
      }, REFRESH_MS);
    };

    const connect = () => {
      dispatch({ kind: "connection", connection: "connecting" });
      socket = new WebSocket(feedUrl());
      socket.onopen = () => {
        attempt = 0;
        socket?.send(JSON.stringify({ key: session.key() ?? undefined, last_event_id: last.current ?? undefined }));
      };
      socket.onmessage = (msg) => {
        const message = JSON.parse(String(msg.data)) as FeedMessage;
        dispatch({ kind: "message", message });
        if (message.type === "resync") refresh(["jobs", "stats", "dlq", "queues"]);
        if (message.type === "events" && message.events.length > 0) {
          const keys = new Set(["jobs", "stats", "queues"]);
          for (const e of message.events) {
            if (keys.size < 200) keys.add(`job|${e.job_id}`);
            if (e.status === "dead" || e.reason === "dlq_retry") keys.add("dlq");
          }
          refresh([...keys]);
        }
      };
      socket.onclose = (close) => {
        socket = null;
        if (stopped) return;
        const reason = close.reason || (close.code === 1006 ? "the API cannot be reached" : `closed (${close.code})`);
        dispatch({ kind: "connection", connection: "down", reason });
        if (close.code === 1008) return; // refused: a wrong key does not get better by retrying
        const wait = Math.min(MAX_BACKOFF_MS, 250 * 2 ** attempt) * (0.5 + Math.random() / 2);
        attempt += 1;
        retry = setTimeout(connect, wait);
      };
    };
    connect();
    return () => {
      stopped = true;
      clearTimeout(retry);
      clearTimeout(flush);
      socket?.close();
    };
  }, [queryClient]);

  return <FeedContext.Provider value={state}>{children}</FeedContext.Provider>;
}
