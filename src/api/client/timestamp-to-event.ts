/** `GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event` (v1 only, as the spec has it). */
import { ownerOf, type Router } from '../../http/router.js';
import {
  parseTimestampQuery,
  type EventByTimestampService,
} from '../../rooms/event-by-timestamp.js';

export function registerTimestampToEventRoutes(
  router: Router,
  timestamps: EventByTimestampService,
): void {
  // Not for guests: the spec's guest access list leaves it out, and Synapse refuses them.
  router.v1('GET', '/rooms/:roomId/timestamp_to_event', { auth: 'required' }, async (request) => {
    const { roomId } = request.params as { roomId: string };
    const query = parseTimestampQuery(request.query);
    return timestamps.forUser(ownerOf(request).userId, roomId, query);
  });
}
