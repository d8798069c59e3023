/**
 * The federation endpoints of received and served room events:
 * `PUT /v1/send/{txnId}` (transactions in), and `/v1/event`, `/v1/state`,
 * `/v1/state_ids`, `/v1/event_auth`, `/v1/get_missing_events`, `/v1/backfill`
 * (events out). Every request is X-Matrix-signed: the router's federation
 * route kind verifies it and hands the handler the origin server name.
 */
import type { FastifyRequest } from 'fastify';
import type { Method } from '../../http/router.js';
import { errors } from '../../protocol/errors.js';
import { queryString } from '../../protocol/params.js';
import type { EventServing } from '../../federation/event-serving.js';
import { parseBackfillQuery, parseMissingEventsBody } from '../../federation/retrieval-rules.js';
import type { TransactionReceiver } from '../../federation/transaction-receiver.js';
import { parseTransactionBody } from '../../federation/transaction-rules.js';

/** A signed federation request's handler: `origin` is the server whose signature verified. */
export type FederationHandler = (request: FastifyRequest, origin: string) => Promise<unknown>;

/** The router's federation route kind; `path` is the full path. */
export interface FederationRoutes {
  federation(method: Method, path: string, handler: FederationHandler): void;
}

const V1 = '/_matrix/federation/v1';

export function registerFederationEventRoutes(
  router: FederationRoutes,
  transactions: TransactionReceiver,
  serving: EventServing,
): void {
  router.federation('PUT', `${V1}/send/:txnId`, async (request, origin) => {
    const { txnId } = request.params as { txnId: string };
    return transactions.receive(txnId, parseTransactionBody(request.body, origin));
  });

  router.federation('GET', `${V1}/event/:eventId`, async (request, origin) => {
    const { eventId } = request.params as { eventId: string };
    return serving.event(origin, eventId);
  });

  router.federation('GET', `${V1}/state/:roomId`, async (request, origin) => {
    const { roomId } = request.params as { roomId: string };
    return serving.state(origin, roomId, requiredEventIdQuery(request.query));
  });

  router.federation('GET', `${V1}/state_ids/:roomId`, async (request, origin) => {
    const { roomId } = request.params as { roomId: string };
    return serving.stateIds(origin, roomId, requiredEventIdQuery(request.query));
  });

  router.federation('GET', `${V1}/event_auth/:roomId/:eventId`, async (request, origin) => {
    const { roomId, eventId } = request.params as { roomId: string; eventId: string };
    return serving.eventAuth(origin, roomId, eventId);
  });

  router.federation('POST', `${V1}/get_missing_events/:roomId`, async (request, origin) => {
    const { roomId } = request.params as { roomId: string };
    return serving.missingEvents(origin, roomId, parseMissingEventsBody(request.body));
  });

  router.federation('GET', `${V1}/backfill/:roomId`, async (request, origin) => {
    const { roomId } = request.params as { roomId: string };
    const { from, limit } = parseBackfillQuery(request.query);
    return serving.backfill(origin, roomId, from, limit);
  });
}

function requiredEventIdQuery(query: unknown): string {
  const eventId = queryString(query, 'event_id');
  if (eventId === undefined) throw errors.missingParam('event_id');
  return eventId;
}
