/** Content reports in SQLite, for the server's admins. */
import type { ReportKind, ReportListQuery, ReportRecord } from '../../domain/reports.js';
import type { NewReport, ReportStore } from '../storage.js';
import {
  REPORT_COUNT,
  REPORT_SELECT,
  type ReportRow,
  reportConditions,
  reportOrder,
  toReportRecord,
} from '../common/report-rows.js';
import type { SqliteDatabase } from './database.js';

const placeholder = () => '?';

export class SqliteReportStore implements ReportStore {
  private readonly insert;

  constructor(private readonly db: SqliteDatabase) {
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

  async list(query: ReportListQuery): Promise<{ reports: ReportRecord[]; total: number }> {
    const { where, params } = reportConditions(query.kind, placeholder, query);
    const { total } = this.db.prepare(`${REPORT_COUNT} ${where}`).get(...params) as {
      total: number;
    };
    const rows = this.db
      .prepare(`${REPORT_SELECT} ${where} ${reportOrder(query.dir)} LIMIT ? OFFSET ?`)
      .all(...params, query.limit, query.from) as ReportRow[];
    return { reports: rows.map(toReportRecord), total };
  }

  async get(kind: ReportKind, id: number): Promise<ReportRecord | undefined> {
    const { where, params } = reportConditions(kind, placeholder, { id });
    const row = this.db.prepare(`${REPORT_SELECT} ${where}`).get(...params) as
      ReportRow | undefined;
    return row && toReportRecord(row);
  }

  async delete(kind: ReportKind, id: number): Promise<boolean> {
    const { where, params } = reportConditions(kind, placeholder, { id });
    // The kind's condition names r.*: the subquery gives the table that alias.
    const result = this.db
      .prepare(
        `DELETE FROM content_reports WHERE id IN (SELECT r.id FROM content_reports r ${where})`,
      )
      .run(...params);
    return result.changes > 0;
  }
}
