/**
 * The key endpoints (server-server API, "Retrieving server keys"): our own
 * keys, and the notary queries answered for other servers' keys. None is
 * signed: a server asks them before it can check signatures.
 */
import type { Router } from '../../http/router.js';
import { queryString } from '../../protocol/params.js';
import { parseMinimumValidUntil, parseNotaryQueryBody } from '../../federation/key-rules.js';
import type { KeyService } from '../../federation/key-service.js';

const KEY_V2 = '/_matrix/key/v2';

export function registerFederationKeyRoutes(router: Router, keys: KeyService): void {
  const ownKeys = async () => keys.ownKeyDocument();
  router.route('GET', `${KEY_V2}/server`, { auth: 'none' }, ownKeys);
  // The key ID form was dropped in v1.6; older servers still ask it (Synapse answers it too).
  router.route('GET', `${KEY_V2}/server/:keyId`, { auth: 'none' }, ownKeys);

  router.route('POST', `${KEY_V2}/query`, { auth: 'none' }, async (request) =>
    keys.notaryResponse(parseNotaryQueryBody(request.body, Date.now())),
  );

  router.route('GET', `${KEY_V2}/query/:serverName`, { auth: 'none' }, async (request) => {
    const { serverName } = request.params as { serverName: string };
    const minimum = queryString(request.query, 'minimum_valid_until_ts');
    const minimumValidUntilTs = parseMinimumValidUntil(minimum, Date.now());
    return keys.notaryResponse([{ serverName, keyIds: [], minimumValidUntilTs }]);
  });
}
