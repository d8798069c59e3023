/**
 * POST /_matrix/client/unstable/org.matrix.simplified_msc3575/sync: simplified
 * sliding sync (MSC4186), what Element X syncs with. `pos`, `timeout` and
 * `set_presence` come in the query string (Ruma's `sync_events::v5`, what
 * matrix-rust-sdk sends) or in the body (the MSC's current text lists them
 * among the body's top-level fields and names no query parameters); the rest
 * is in the body (sliding-sync/sliding-sync-rules.ts reads it).
 *
 * When both carry one, the query's wins: the MSC is silent on it, Synapse reads
 * these three from the query only, and today's clients put them there, so the
 * query is what a client that sends both has been tested against.
 */
import { errors } from '../../protocol/errors.js';
import { queryString } from '../../protocol/params.js';
import { ownerOf, type Router } from '../../http/router.js';
import { parseSlidingSyncRequest, presenceSetting } from '../../sliding-sync/sliding-sync-rules.js';
import type { ClientApiServices } from './services.js';
import { abortedWhenClosed, integerParam, MAX_SYNC_TIMEOUT_MS } from './sync.js';

export const SLIDING_SYNC_PATH = '/_matrix/client/unstable/org.matrix.simplified_msc3575/sync';

/** A pos this server issues is 16 characters; anything much longer is not one. */
const MAX_POS_LENGTH = 64;

export function registerSlidingSyncRoutes(router: Router, services: ClientApiServices): void {
  const { slidingSync } = services.syncDeps;
  const { presence } = services.userData;

  router.route('POST', SLIDING_SYNC_PATH, { auth: 'required' }, async (request, reply) => {
    const owner = ownerOf(request);
    const query = request.query;
    const parsed = parseSlidingSyncRequest(request.body ?? {});
    const pos = queryString(query, 'pos') ?? parsed.bodyPos;
    if (pos !== undefined && pos.length > MAX_POS_LENGTH) {
      throw errors.invalidParam('pos is not a position of this server');
    }
    const querySetPresence = queryString(query, 'set_presence');
    const setPresence =
      querySetPresence === undefined
        ? parsed.bodySetPresence
        : presenceSetting(querySetPresence, 'set_presence');
    const timeoutMs = Math.min(
      integerParam(queryString(query, 'timeout'), 'timeout') ?? parsed.bodyTimeoutMs ?? 0,
      MAX_SYNC_TIMEOUT_MS,
    );
    // A syncing user is online (or what set_presence says) until the request ends, as with /sync.
    const syncEnded = await presence.syncing(owner.userId, setPresence);
    try {
      return await slidingSync.sync({
        viewer: owner,
        request: parsed,
        pos,
        timeoutMs,
        signal: abortedWhenClosed(reply),
      });
    } finally {
      syncEnded();
    }
  });
}
