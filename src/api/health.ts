/**
 * `GET /health` (and HEAD), as Synapse's: `200 OK` in plain text while the
 * server can serve (its database answers), `503 Service Unavailable`
 * otherwise. For load balancers and orchestrators: no auth, on the client
 * listener, never a 500 and no error logged (a warning per failed check).
 */
import type { Router } from '../http/router.js';

/** A database that takes longer than this to answer counts as down. */
export const HEALTH_PING_TIMEOUT_MS = 5000;

export function registerHealthRoute(
  router: Router,
  /** Resolves while the database answers (Storage.ping). */
  ping: () => Promise<void>,
  timeoutMs = HEALTH_PING_TIMEOUT_MS,
): void {
  router.route('GET', '/health', { auth: 'none' }, async (request, reply) => {
    reply.type('text/plain; charset=utf-8').header('cache-control', 'no-store');
    try {
      await withTimeout(ping(), timeoutMs);
      return 'OK';
    } catch (err) {
      request.log.warn({ err }, 'health check: the database did not answer');
      reply.code(503);
      return 'Service Unavailable';
    }
  });
}

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
