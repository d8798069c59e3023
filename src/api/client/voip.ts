/** `GET /voip/turnServer`. */
import type { VoipConfig } from '../../config/config.js';
import { ownerOf, type Router } from '../../http/router.js';
import { errors } from '../../protocol/errors.js';
import { turnCredentials } from '../../voip/turn-credentials.js';

export function registerVoipRoutes(router: Router, voip: VoipConfig): void {
  router.client('GET', '/voip/turnServer', { auth: 'required', guest: true }, async (request) => {
    const owner = ownerOf(request);
    if (owner.isGuest && !voip.turn_allow_guests) {
      throw errors.forbidden('Guest access to TURN servers is disabled');
    }
    // No TURN server: `{}`, as Synapse answers (clients then call without one).
    return turnCredentials(voip, owner.userId, Date.now()) ?? {};
  });
}
