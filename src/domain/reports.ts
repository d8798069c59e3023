/** Content reports as storage holds them and the Admin API lists them (issue 23). */

/** Which reports a content report is: of an event, of a room (no event), of a user. */
export type ReportKind = 'event' | 'room' | 'user';

/** A stored report; `eventSender` is the reported event's sender (event reports, if the event is known). */
export interface ReportRecord {
  id: number;
  reporter: string;
  roomId: string | null;
  eventId: string | null;
  userId: string | null;
  reason: string | null;
  receivedTs: number;
  eventSender: string | null;
}

/** A page of one kind of reports for the Admin API; every filter is optional. */
export interface ReportListQuery {
  kind: ReportKind;
  from: number;
  limit: number;
  /** `b`: newest first. */
  dir: 'f' | 'b';
  reporter?: string;
  roomId?: string;
  eventSender?: string;
  targetUserId?: string;
}
