/**
 * The content_reports queries both backends run for the Admin API: which rows
 * are of which kind, the filters of a list, and the row mapper. Placeholders
 * are made by the backend (`?` or `$n`), so the SQL text is shared.
 */
import type { ReportKind, ReportListQuery, ReportRecord } from '../../domain/reports.js';

export interface ReportRow {
  id: number;
  reporter: string;
  room_id: string | null;
  event_id: string | null;
  user_id: string | null;
  reason: string | null;
  received_ts: number;
  event_sender: string | null;
}

/** One table holds every kind: a room report is a report with a room and no event. */
const KIND_CONDITION: Record<ReportKind, string> = {
  event: 'r.event_id IS NOT NULL',
  room: 'r.room_id IS NOT NULL AND r.event_id IS NULL',
  user: 'r.user_id IS NOT NULL',
};

/** The reported event's sender comes from the events table (absent if the event is not known). */
export const REPORT_SELECT = `SELECT r.id, r.reporter, r.room_id, r.event_id, r.user_id, r.reason,
    r.received_ts, e.sender AS event_sender
  FROM content_reports r LEFT JOIN events e ON e.event_id = r.event_id`;

export const REPORT_COUNT = `SELECT COUNT(*) AS total
  FROM content_reports r LEFT JOIN events e ON e.event_id = r.event_id`;

/** The WHERE clause of a list (or of one report when `id` is given) and its parameters, in order. */
export function reportConditions(
  kind: ReportKind,
  placeholder: (index: number) => string,
  filters: Partial<
    Pick<ReportListQuery, 'reporter' | 'roomId' | 'eventSender' | 'targetUserId'>
  > & {
    id?: number;
  },
): { where: string; params: unknown[] } {
  const conditions = [KIND_CONDITION[kind]];
  const params: unknown[] = [];
  const add = (column: string, value: unknown) => {
    if (value === undefined) return;
    params.push(value);
    conditions.push(`${column} = ${placeholder(params.length)}`);
  };
  add('r.id', filters.id);
  add('r.reporter', filters.reporter);
  add('r.room_id', filters.roomId);
  add('e.sender', filters.eventSender);
  add('r.user_id', filters.targetUserId);
  return { where: `WHERE ${conditions.join(' AND ')}`, params };
}

/** Newest first for `b` (Synapse orders by received_ts; IDs grow with it). */
export function reportOrder(dir: 'f' | 'b'): string {
  return dir === 'b' ? 'ORDER BY r.id DESC' : 'ORDER BY r.id ASC';
}

export function toReportRecord(row: ReportRow): ReportRecord {
  return {
    id: Number(row.id),
    reporter: row.reporter,
    roomId: row.room_id,
    eventId: row.event_id,
    userId: row.user_id,
    reason: row.reason,
    receivedTs: Number(row.received_ts),
    eventSender: row.event_sender,
  };
}
