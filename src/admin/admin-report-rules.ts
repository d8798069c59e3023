/**
 * The rules of the Admin API over content reports that need no storage: the
 * list's query parameters, report IDs, the report objects and pages. Synapse's
 * event_reports and user_reports endpoints are the model; Synapse has no room
 * reports endpoint, so room_reports mirrors event_reports without the event's
 * fields (and `user_reports` keeps Synapse's `target_user_id`). Pure.
 */
import { errors } from '../protocol/errors.js';
import { queryString } from '../protocol/params.js';
import type { ReportKind, ReportListQuery, ReportRecord } from '../domain/reports.js';
import { nonNegativeIntegerParam } from './admin-rules.js';

/** Synapse's default page size for reports. */
export const DEFAULT_REPORT_LIMIT = 100;

/** Each kind's filters: query parameter → field of the storage query. */
const FILTERS: Record<
  ReportKind,
  Record<string, 'reporter' | 'roomId' | 'eventSender' | 'targetUserId'>
> = {
  event: { user_id: 'reporter', room_id: 'roomId', event_sender_user_id: 'eventSender' },
  room: { user_id: 'reporter', room_id: 'roomId' },
  user: { user_id: 'reporter', target_user_id: 'targetUserId' },
};

export function parseReportListQuery(kind: ReportKind, query: unknown): ReportListQuery {
  const dir = queryString(query, 'dir') ?? 'b';
  if (dir !== 'f' && dir !== 'b') throw errors.invalidParam("dir must be 'f' or 'b'");
  const parsed: ReportListQuery = {
    kind,
    from: nonNegativeIntegerParam(query, 'from', 0),
    limit: nonNegativeIntegerParam(query, 'limit', DEFAULT_REPORT_LIMIT),
    dir,
  };
  for (const [param, field] of Object.entries(FILTERS[kind])) {
    const value = queryString(query, param);
    if (value !== undefined) parsed[field] = value;
  }
  return parsed;
}

/** A report ID from the path: a non-negative integer, else 400 M_INVALID_PARAM (as Synapse). */
export function parseReportId(raw: string): number {
  const id = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(id)) {
    throw errors.invalidParam(
      'The report_id parameter must be a string representing a positive integer.',
    );
  }
  return id;
}

/** What the room of a report is called: its m.room.name and canonical alias, null when unset. */
export interface RoomLabels {
  name: string | null;
  canonicalAlias: string | null;
}

export interface EventReportJson {
  id: number;
  received_ts: number;
  room_id: string | null;
  name: string | null;
  event_id: string | null;
  user_id: string;
  reason: string | null;
  /** Removed from the spec in v1.18; Weft never stores one, so always null (Synapse: "May be null"). */
  score: null;
  sender: string | null;
  canonical_alias: string | null;
}

export function eventReportJson(report: ReportRecord, labels: RoomLabels): EventReportJson {
  return {
    id: report.id,
    received_ts: report.receivedTs,
    room_id: report.roomId,
    name: labels.name,
    event_id: report.eventId,
    user_id: report.reporter,
    reason: report.reason,
    score: null,
    sender: report.eventSender,
    canonical_alias: labels.canonicalAlias,
  };
}

export interface RoomReportJson {
  id: number;
  received_ts: number;
  room_id: string | null;
  name: string | null;
  canonical_alias: string | null;
  user_id: string;
  reason: string | null;
}

export function roomReportJson(report: ReportRecord, labels: RoomLabels): RoomReportJson {
  return {
    id: report.id,
    received_ts: report.receivedTs,
    room_id: report.roomId,
    name: labels.name,
    canonical_alias: labels.canonicalAlias,
    user_id: report.reporter,
    reason: report.reason,
  };
}

export interface UserReportJson {
  id: number;
  received_ts: number;
  target_user_id: string | null;
  user_id: string;
  reason: string | null;
}

export function userReportJson(report: ReportRecord): UserReportJson {
  return {
    id: report.id,
    received_ts: report.receivedTs,
    target_user_id: report.userId,
    user_id: report.reporter,
    reason: report.reason,
  };
}

/** Synapse's page: next_token (an offset) only while reports remain past this page. */
export function reportPage<T>(
  key: string,
  query: ReportListQuery,
  items: T[],
  total: number,
): Record<string, unknown> {
  const page: Record<string, unknown> = { [key]: items, total };
  if (query.from + query.limit < total) page.next_token = query.from + items.length;
  return page;
}
