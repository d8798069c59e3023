/** `fetch_event`, and a user's `sent_invite_count` and `cumulative_joined_room_count`. */
import type { AdminEventService } from '../../admin/admin-event-service.js';
import type { Router } from '../../http/router.js';
import { requiredIntegerQuery } from '../../protocol/params.js';

/** The required `from_ts` (ms since the epoch), as Synapse's parse_integer(required=True). */
const fromTs = (query: unknown) => requiredIntegerQuery(query, 'from_ts');

export function registerAdminEventRoutes(router: Router, events: AdminEventService): void {
  const userIdOf = (params: unknown) => (params as { userId: string }).userId;

  router.admin('GET', '/v1/fetch_event/:eventId', async (request) =>
    events.fetchEvent((request.params as { eventId: string }).eventId),
  );
  router.admin('GET', '/v1/users/:userId/sent_invite_count', async (request) =>
    events.sentInviteCount(userIdOf(request.params), fromTs(request.query)),
  );
  router.admin('GET', '/v1/users/:userId/cumulative_joined_room_count', async (request) =>
    events.cumulativeJoinedRoomCount(userIdOf(request.params), fromTs(request.query)),
  );
}
