/** Reporting: events, rooms and users (POST .../report), stored for admins. */
import { objectBody, optionalString, requiredString } from '../../protocol/params.js';
import { ownerOf, type Router } from '../../http/router.js';
import type { UserDataDeps } from './user-data.js';

interface Params {
  roomId?: string;
  eventId?: string;
  userId?: string;
}

export function registerReportRoutes(router: Router, { reports }: UserDataDeps): void {
  const AUTH = { auth: 'required' } as const;

  // `score` (removed in v1.18) is accepted from older clients and ignored.
  router.client('POST', '/rooms/:roomId/report/:eventId', AUTH, async (request) => {
    const { roomId, eventId } = request.params as Params;
    const reason = optionalString(objectBody(request.body, { allowEmpty: true }), 'reason');
    await reports.reportEvent(ownerOf(request).userId, roomId!, eventId!, reason);
    return {};
  });

  router.client('POST', '/rooms/:roomId/report', AUTH, async (request) => {
    const { roomId } = request.params as Params;
    const reason = requiredString(objectBody(request.body), 'reason');
    await reports.reportRoom(ownerOf(request).userId, roomId!, reason);
    return {};
  });

  router.client('POST', '/users/:userId/report', AUTH, async (request) => {
    const { userId } = request.params as Params;
    const reason = requiredString(objectBody(request.body), 'reason');
    await reports.reportUser(ownerOf(request).userId, userId!, reason);
    return {};
  });
}
