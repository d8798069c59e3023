/**
 * Content reports (rooms, events, users), stored for the server's admins. As
 * the spec allows, 404 tells of a room, event or user that does not exist (or,
 * for events, of a room the reporter is not joined to).
 */
import { errors } from '../protocol/errors.js';
import { currentMembership } from '../rooms/current-membership.js';
import type { RoomStateReader, UserReader } from '../storage/readers.js';
import type { ReportStore } from '../storage/storage.js';

/** Reasons are bounded so that no client can bloat storage. */
export const MAX_REASON_LENGTH = 8192;

/** The reports, and the rooms, events and users they name (and the reporter's membership). */
export interface ReportServiceStorage {
  reports: ReportStore;
  rooms: RoomStateReader;
  users: UserReader;
}

export class ReportService {
  constructor(private readonly storage: ReportServiceStorage) {}

  async reportEvent(reporter: string, roomId: string, eventId: string, reason?: string) {
    const joined = (await currentMembership(this.storage, roomId, reporter)) === 'join';
    const event = joined ? await this.storage.rooms.getEvent(eventId) : undefined;
    if (!event || event.roomId !== roomId) throw errors.notFound('Event not found');
    await this.add({ reporter, roomId, eventId, reason });
  }

  async reportRoom(reporter: string, roomId: string, reason: string) {
    if (!(await this.storage.rooms.getRoom(roomId))) throw errors.notFound('Room not found');
    await this.add({ reporter, roomId, reason });
  }

  async reportUser(reporter: string, userId: string, reason: string) {
    if (!(await this.storage.users.getUser(userId))) throw errors.notFound('User not found');
    await this.add({ reporter, userId, reason });
  }

  private async add(report: {
    reporter: string;
    roomId?: string;
    eventId?: string;
    userId?: string;
    reason?: string;
  }) {
    if (report.reason !== undefined && report.reason.length > MAX_REASON_LENGTH) {
      throw errors.invalidParam('reason is too long');
    }
    await this.storage.reports.add({ ...report, receivedTs: Date.now() });
  }
}
