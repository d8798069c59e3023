/**
 * Pushers (client-server API, "Push notifications"): `GET /pushers` and
 * `POST /pushers/set`. A pusher belongs to the device that set it and is
 * deleted with it (logout, device deletion), as Synapse does. Guests are
 * refused by the router.
 */
import { ownerOf, type Router } from '../../http/router.js';
import type { PusherService } from '../../push/pusher-service.js';

const AUTH = { auth: 'required' } as const;

export function registerPusherRoutes(router: Router, pushers: PusherService): void {
  router.client('GET', '/pushers', AUTH, async (request) => pushers.list(ownerOf(request).userId));

  router.client('POST', '/pushers/set', AUTH, async (request) => {
    const { userId, deviceId } = ownerOf(request);
    await pushers.set(userId, deviceId, request.body);
    return {};
  });
}
