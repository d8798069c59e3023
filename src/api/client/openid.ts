/**
 * POST /_matrix/client/v3/user/{userId}/openid/request_token, and its counterpart
 * GET /_matrix/federation/v1/openid/userinfo, served on the main listener (the
 * integration server calls the homeserver back; federation will serve it too).
 */
import { ownerOf, type Router } from '../../http/router.js';
import type { OpenIdTokenService } from '../../auth/openid-tokens.js';
import { MatrixError, errors } from '../../protocol/errors.js';
import { objectBody, queryString } from '../../protocol/params.js';

export function registerOpenIdRoutes(router: Router, openid: OpenIdTokenService): void {
  router.client(
    'POST',
    '/user/:userId/openid/request_token',
    { auth: 'required' },
    async (request) => {
      const { userId } = request.params as { userId: string };
      // The body is "an empty object, reserved for future expansion": any object is accepted.
      objectBody(request.body, { allowEmpty: true });
      const owner = ownerOf(request);
      if (userId !== owner.userId) {
        throw errors.forbidden('You cannot request an OpenID token for another user');
      }
      return openid.issue(owner.userId);
    },
  );

  router.route(
    'GET',
    '/_matrix/federation/v1/openid/userinfo',
    { auth: 'none' },
    async (request) => {
      const token = queryString(request.query, 'access_token');
      // Synapse's answers: M_MISSING_TOKEN without a token, M_UNKNOWN_TOKEN for a bad one.
      if (token === undefined)
        throw new MatrixError(401, 'M_MISSING_TOKEN', 'Access token required');
      const userId = await openid.userOf(token);
      if (userId === undefined) {
        throw new MatrixError(401, 'M_UNKNOWN_TOKEN', 'Access token unknown or expired');
      }
      return { sub: userId };
    },
  );
}
