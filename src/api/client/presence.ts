/** GET/PUT /presence/{userId}/status. */
import { checkLength, objectBody, optionalString } from '../../protocol/params.js';
import { errors } from '../../protocol/errors.js';
import { ownerOf, type Router } from '../../http/router.js';
import { MAX_STATUS_MSG_LENGTH, parsePresenceState } from '../../presence/presence-rules.js';
import type { UserDataDeps } from './user-data.js';

const AUTH = { auth: 'required', guest: true } as const;

export function registerPresenceRoutes(router: Router, { presence }: UserDataDeps): void {
  router.client('GET', '/presence/:userId/status', AUTH, async (request) => {
    const { userId } = request.params as { userId: string };
    return presence.status(ownerOf(request).userId, userId);
  });

  router.client('PUT', '/presence/:userId/status', AUTH, async (request) => {
    const { userId } = request.params as { userId: string };
    if (userId !== ownerOf(request).userId)
      throw errors.forbidden("Cannot set another user's presence");
    const body = objectBody(request.body);
    if (body.presence === undefined) throw errors.missingParam('presence');
    const state = parsePresenceState(body.presence);
    const statusMsg = optionalString(body, 'status_msg');
    checkLength(statusMsg, MAX_STATUS_MSG_LENGTH, 'status_msg');
    await presence.set(userId, state, statusMsg);
    return {};
  });
}
