/** Content reports in PostgreSQL, for the server's admins (the id comes from its sequence). */
import type { NewReport, ReportStore } from '../storage.js';
import type { PgExecutor } from './database.js';

export class PgReportStore implements ReportStore {
  constructor(private readonly db: PgExecutor) {}

  async add(r: NewReport): Promise<void> {
    await this.db.run(
      `INSERT INTO content_reports (reporter, room_id, event_id, user_id, reason, received_ts)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [
        r.reporter,
        r.roomId ?? null,
        r.eventId ?? null,
        r.userId ?? null,
        r.reason ?? null,
        r.receivedTs,
      ],
    );
  }
}
