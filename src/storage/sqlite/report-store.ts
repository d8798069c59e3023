/** Content reports in SQLite, for the server's admins. */
import type { NewReport, ReportStore } from '../storage.js';
import type { SqliteDatabase } from './database.js';

export class SqliteReportStore implements ReportStore {
  private readonly insert;

  constructor(db: SqliteDatabase) {
    this.insert = db.prepare(
      `INSERT INTO content_reports (reporter, room_id, event_id, user_id, reason, received_ts)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
  }

  async add(r: NewReport): Promise<void> {
    this.insert.run(
      r.reporter,
      r.roomId ?? null,
      r.eventId ?? null,
      r.userId ?? null,
      r.reason ?? null,
      r.receivedTs,
    );
  }
}
