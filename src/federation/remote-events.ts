/**
 * The event-retrieval requests a receiving server makes to the server that
 * sent it a PDU (server-server API, "Retrieving events", "Backfilling and
 * retrieving missing events", "Retrieving event authorisation information"):
 * each answer's shape is checked here, its PDUs are returned as untrusted
 * JSON for the receiver's own checks. A failed request or an error status
 * throws (the receiver catches it, logs it and goes on without); a malformed
 * answer reads as an empty one.
 */
import type { FederationSender } from './outbound.js';

const V1 = '/_matrix/federation/v1';
/** Remote calls made while a /send is being answered: long enough for a busy peer, bounded. */
const REMOTE_TIMEOUT_MS = 30_000;

export interface RemoteStateIds {
  pduIds: string[];
  authChainIds: string[];
}

export interface RemoteState {
  pdus: unknown[];
  authChain: unknown[];
}

export class RemoteEvents {
  constructor(private readonly sender: FederationSender) {}

  /** `POST /get_missing_events/{roomId}`: the events between what we have and `latest`. */
  async missingEvents(
    origin: string,
    roomId: string,
    query: { earliest: string[]; latest: string[]; limit: number; minDepth: number },
  ): Promise<unknown[]> {
    const body = await this.call(origin, 'POST', `/get_missing_events/${enc(roomId)}`, {
      earliest_events: query.earliest,
      latest_events: query.latest,
      limit: query.limit,
      min_depth: query.minDepth,
    });
    return arrayField(body, 'events');
  }

  /** `GET /state_ids/{roomId}?event_id=`: the state before the event, as IDs, and its auth chain. */
  async stateIds(origin: string, roomId: string, eventId: string): Promise<RemoteStateIds> {
    const body = await this.call(
      origin,
      'GET',
      `/state_ids/${enc(roomId)}?event_id=${enc(eventId)}`,
    );
    return {
      pduIds: arrayField(body, 'pdu_ids').filter(isString),
      authChainIds: arrayField(body, 'auth_chain_ids').filter(isString),
    };
  }

  /** `GET /state/{roomId}?event_id=`: the same as whole events. */
  async state(origin: string, roomId: string, eventId: string): Promise<RemoteState> {
    const body = await this.call(origin, 'GET', `/state/${enc(roomId)}?event_id=${enc(eventId)}`);
    return { pdus: arrayField(body, 'pdus'), authChain: arrayField(body, 'auth_chain') };
  }

  /** `GET /event/{eventId}`: the one PDU, or undefined. */
  async event(origin: string, eventId: string): Promise<unknown> {
    const body = await this.call(origin, 'GET', `/event/${enc(eventId)}`);
    const pdus = arrayField(body, 'pdus');
    return pdus.length === 1 ? pdus[0] : undefined;
  }

  /** `GET /event_auth/{roomId}/{eventId}`: the event's whole auth chain. */
  async eventAuth(origin: string, roomId: string, eventId: string): Promise<unknown[]> {
    const body = await this.call(origin, 'GET', `/event_auth/${enc(roomId)}/${enc(eventId)}`);
    return arrayField(body, 'auth_chain');
  }

  private async call(
    destination: string,
    method: 'GET' | 'POST',
    path: string,
    body?: Record<string, string[] | number>,
  ): Promise<unknown> {
    const response = await this.sender.request({
      destination,
      method,
      path: V1 + path,
      ...(body === undefined ? {} : { body }),
      timeoutMs: REMOTE_TIMEOUT_MS,
    });
    if (response.status !== 200) {
      throw new Error(`${method} ${path.split('?')[0]} answered ${response.status}`);
    }
    return response.body;
  }
}

function enc(value: string): string {
  return encodeURIComponent(value);
}

function arrayField(body: unknown, key: string): unknown[] {
  if (typeof body !== 'object' || body === null) return [];
  const value = (body as Record<string, unknown>)[key];
  return Array.isArray(value) ? value : [];
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}
