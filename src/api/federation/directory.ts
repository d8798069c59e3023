/**
 * The Server-Server directory queries: `/v1/publicRooms` (GET and POST),
 * `/v1/hierarchy/{roomId}` and `/v1/timestamp_to_event/{roomId}`
 * (federation/directory-serving.ts answers them).
 */
import type { DirectoryServing } from '../../federation/directory-serving.js';
import {
  parsePublicRoomsBody,
  parsePublicRoomsQuery,
  parseSuggestedOnly,
} from '../../federation/directory-rules.js';
import { parseTimestampQuery } from '../../rooms/event-by-timestamp.js';
import type { FederationRoutes } from './queries.js';

const V1 = '/_matrix/federation/v1';

export function registerFederationDirectoryRoutes(
  router: FederationRoutes,
  serving: DirectoryServing,
): void {
  router.federation('GET', `${V1}/publicRooms`, async (request) =>
    serving.publicRooms(parsePublicRoomsQuery(request.query)),
  );

  router.federation('POST', `${V1}/publicRooms`, async (request) =>
    serving.publicRooms(parsePublicRoomsBody(request.body)),
  );

  router.federation('GET', `${V1}/hierarchy/:roomId`, async (request, origin) => {
    const { roomId } = request.params as { roomId: string };
    return serving.hierarchy(origin, roomId, parseSuggestedOnly(request.query));
  });

  router.federation('GET', `${V1}/timestamp_to_event/:roomId`, async (request, origin) => {
    const { roomId } = request.params as { roomId: string };
    return serving.timestampToEvent(origin, roomId, parseTimestampQuery(request.query));
  });
}
