/** Content reports in PostgreSQL, for the server's admins (the id comes from its sequence). */
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
import type { PgExecutor } from './database.js';

const placeholder = (index: number) => `$${index}`;

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

  async list(query: ReportListQuery): Promise<{ reports: ReportRecord[]; total: number }> {
    const { where, params } = reportConditions(query.kind, placeholder, query);
    const counted = await this.db.row<{ total: number }>(`${REPORT_COUNT} ${where}`, params);
    const n = params.length;
    const rows = await this.db.rows<ReportRow>(
      `${REPORT_SELECT} ${where} ${reportOrder(query.dir)} LIMIT $${n + 1} OFFSET $${n + 2}`,
      [...params, query.limit, query.from],
    );
    return { reports: rows.map(toReportRecord), total: Number(counted?.total ?? 0) };
  }

  async get(kind: ReportKind, id: number): Promise<ReportRecord | undefined> {
    const { where, params } = reportConditions(kind, placeholder, { id });
    const row = await this.db.row<ReportRow>(`${REPORT_SELECT} ${where}`, params);
    return row && toReportRecord(row);
  }

  async delete(kind: ReportKind, id: number): Promise<boolean> {
    const { where, params } = reportConditions(kind, placeholder, { id });
    // The kind's condition names r.*: alias the table.
    const deleted = await this.db.run(`DELETE FROM content_reports r ${where}`, params);
    return deleted > 0;
  }
}
