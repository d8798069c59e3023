/**
 * The Admin API over content reports: `/_synapse/admin/v1/{event,room,user}_reports`
 * (a page, one report, deletion). Server admins only (the router checks).
 */
import type { AdminReportService } from '../../admin/admin-report-service.js';
import { parseReportId, parseReportListQuery } from '../../admin/admin-report-rules.js';
import type { Router } from '../../http/router.js';
import type { ReportKind } from '../../domain/reports.js';

const PATHS: Record<ReportKind, string> = {
  event: '/v1/event_reports',
  room: '/v1/room_reports',
  user: '/v1/user_reports',
};

export function registerAdminReportRoutes(router: Router, reports: AdminReportService): void {
  const reportId = (params: unknown) => parseReportId((params as { reportId: string }).reportId);
  for (const [kind, path] of Object.entries(PATHS) as [ReportKind, string][]) {
    router.admin('GET', path, async (request) =>
      reports.list(parseReportListQuery(kind, request.query)),
    );
    router.admin('GET', `${path}/:reportId`, async (request) =>
      reports.get(kind, reportId(request.params)),
    );
    router.admin('DELETE', `${path}/:reportId`, async (request) =>
      reports.delete(kind, reportId(request.params)),
    );
  }
}
