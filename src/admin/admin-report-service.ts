/**
 * Synapse's Admin API over content reports: pages of event, room and user
 * reports, one report, deletion. The rules are admin-report-rules.ts; the
 * rooms' names and aliases are read from their current state here.
 */
import { stateMapKey } from '../events/auth/auth-state.js';
import type { JsonObject } from '../events/pdu.js';
import { errors } from '../protocol/errors.js';
import type { RoomStateReader } from '../storage/readers.js';
import type { ReportKind, ReportListQuery, ReportRecord } from '../domain/reports.js';
import type { ReportStore } from '../storage/storage.js';
import type { AdminEventService } from './admin-event-service.js';
import {
  eventReportJson,
  type EventReportJson,
  reportPage,
  type RoomLabels,
  roomReportJson,
  type RoomReportJson,
  userReportJson,
  type UserReportJson,
} from './admin-report-rules.js';

export interface AdminReportServiceStorage {
  reports: ReportStore;
  rooms: Pick<RoomStateReader, 'currentStateIdsFor' | 'getEvents'>;
}

const LIST_KEYS: Record<ReportKind, string> = {
  event: 'event_reports',
  room: 'room_reports',
  user: 'user_reports',
};

const NOT_FOUND: Record<ReportKind, string> = {
  event: 'Event report not found',
  room: 'Room report not found',
  user: 'User report not found',
};

const NO_LABELS: RoomLabels = { name: null, canonicalAlias: null };

export class AdminReportService {
  constructor(
    private readonly storage: AdminReportServiceStorage,
    /** The reported event as Synapse's `event_json` shows it (fetch_event's PDU). */
    private readonly events: Pick<AdminEventService, 'fetchEvent'>,
  ) {}

  async list(query: ReportListQuery): Promise<Record<string, unknown>> {
    const { reports, total } = await this.storage.reports.list(query);
    const labels = new Map<string, RoomLabels>();
    const items = [];
    for (const report of reports) items.push(await this.reportJson(report, labels));
    return reportPage(LIST_KEYS[query.kind], query, items, total);
  }

  /** One report; an event report carries the event (`event_json`, null if the event is unknown). */
  async get(kind: ReportKind, id: number): Promise<JsonObject> {
    const report = await this.storage.reports.get(kind, id);
    if (!report) throw errors.notFound(NOT_FOUND[kind]);
    const json = (await this.reportJson(report, new Map())) as unknown as JsonObject;
    if (kind !== 'event') return json;
    const known = report.eventId !== null && report.eventSender !== null;
    const event = known ? (await this.events.fetchEvent(report.eventId!)).event : null;
    return { ...json, event_json: event };
  }

  async delete(kind: ReportKind, id: number): Promise<Record<string, never>> {
    if (!(await this.storage.reports.delete(kind, id))) throw errors.notFound(NOT_FOUND[kind]);
    return {};
  }

  private async reportJson(
    report: ReportRecord,
    labels: Map<string, RoomLabels>,
  ): Promise<EventReportJson | RoomReportJson | UserReportJson> {
    if (report.eventId !== null) return eventReportJson(report, await this.labels(report, labels));
    if (report.roomId !== null) return roomReportJson(report, await this.labels(report, labels));
    return userReportJson(report);
  }

  /** The room's name and canonical alias now, once per room of a page. */
  private async labels(report: ReportRecord, known: Map<string, RoomLabels>): Promise<RoomLabels> {
    if (report.roomId === null) return NO_LABELS;
    const cached = known.get(report.roomId);
    if (cached) return cached;
    const ids = await this.storage.rooms.currentStateIdsFor(report.roomId, [
      { type: 'm.room.name', stateKey: '' },
      { type: 'm.room.canonical_alias', stateKey: '' },
    ]);
    const nameId = ids.get(stateMapKey('m.room.name', ''));
    const aliasId = ids.get(stateMapKey('m.room.canonical_alias', ''));
    const events = await this.storage.rooms.getEvents(
      [nameId, aliasId].filter((id) => !!id) as string[],
    );
    const contentOf = (id: string | undefined) =>
      events.find((event) => event.eventId === id)?.pdu.content as
        Record<string, unknown> | undefined;
    const name = contentOf(nameId)?.name;
    const alias = contentOf(aliasId)?.alias;
    const found: RoomLabels = {
      name: typeof name === 'string' ? name : null,
      canonicalAlias: typeof alias === 'string' ? alias : null,
    };
    known.set(report.roomId, found);
    return found;
  }
}
