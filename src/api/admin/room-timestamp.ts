/** `GET /_synapse/admin/v1/rooms/{roomId}/timestamp_to_event`: any room, no membership needed. */
import type { Router } from '../../http/router.js';
import {
  parseTimestampQuery,
  type EventByTimestampService,
} from '../../rooms/event-by-timestamp.js';

export function registerAdminTimestampRoutes(
  router: Router,
  timestamps: EventByTimestampService,
): void {
  router.admin('GET', '/v1/rooms/:roomId/timestamp_to_event', async (request) => {
    const { roomId } = request.params as { roomId: string };
    return timestamps.find(roomId, parseTimestampQuery(request.query));
  });
}
