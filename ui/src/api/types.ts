// Names for the API's models, from the generated schema (src/api/schema.ts: `npm run gen:types`).
import type { components } from "./schema";

type S = components["schemas"];
export type Job = S["Job"];
export type JobList = S["JobList"];
export type JobStatus = S["JobStatus"];
export type JobEvent = S["JobEvent"];
export type JobTimeline = S["JobTimeline"];
export type Priority = S["Priority"];
export type QueueStats = S["QueueStats"];
export type QueueInfo = S["QueueInfo"];
export type QueueList = S["QueueList"];
export type History = S["History"];
export type HistoryPoint = S["HistoryPoint"];
export type WorkerInfo = S["WorkerInfo"];
export type WorkerList = S["WorkerList"];
export type DeadLetter = S["DeadLetter"];
export type DeadLetterList = S["DeadLetterList"];
export type DeadLetterRetry = S["DeadLetterRetry"];
export type DeadLetterRetried = S["DeadLetterRetried"];
export type Schedule = S["Schedule"];
export type ScheduleList = S["ScheduleList"];
export type ScheduleCreate = S["ScheduleCreate"];
export type Tenant = S["Tenant"];
export type TenantList = S["TenantList"];
export type TenantUsage = S["TenantUsage"];
export type ApiKeyCreated = S["ApiKeyCreated"];
export type ApiKeyList = S["ApiKeyList"];
export type JobCreate = S["JobCreate"];
export type JobCreated = S["JobCreated"];
export type FeedEvent = S["FeedEvent"];
export type FeedWelcome = S["FeedWelcome"];
export type FeedResync = S["FeedResync"];

export const STATUSES: JobStatus[] = [
  "waiting",
  "scheduled",
  "pending",
  "running",
  "succeeded",
  "dead",
  "canceled",
];
export const PRIORITIES: Priority[] = ["critical", "high", "normal", "low"];
