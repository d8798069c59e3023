/**
 * What our users ask of other servers' directories over federation:
 * `/publicRooms` (their published rooms, for the client API's `server=`),
 * `/hierarchy/{roomId}` (spaces none of our users is in) and
 * `/timestamp_to_event/{roomId}` with the `/event` it names
 * (remote-timestamps.ts). Every answer is kept to the spec's shapes
 * (directory-rules.ts) before anything of ours reads it.
 */
import type { Logger } from 'pino';
import type { JsonObject } from '../events/pdu.js';
import { MatrixError } from '../protocol/errors.js';
import {
  matchesFilter,
  type PublicRoomsQuery,
  type RemoteDirectory,
} from '../rooms/directory-service.js';
import type { FoundEvent, TimestampQuery } from '../rooms/event-by-timestamp.js';
import type { RemoteHierarchy, RemoteSpace } from '../rooms/hierarchy.js';
import {
  FederationUnreachable,
  type FederationRequest,
  type FederationResponse,
  type FederationSender,
} from './outbound.js';
import { describeErrorAnswer } from './query-rules.js';
import { LruCache } from '../util/lru-cache.js';
import {
  readHierarchyAnswer,
  readPublicRoomsAnswer,
  readTimestampAnswer,
} from './directory-rules.js';

const V1 = '/_matrix/federation/v1';
/** A client waits for these answers: long enough for a busy server, bounded. */
const QUERY_TIMEOUT_MS = 10_000;
/** Servers of a `via` tried in turn for one space. */
const MAX_VIA_TRIED = 3;
/** Spaces' answers kept (the spec: "should be cached"), so each page of a walk does not ask again. */
const SPACE_CACHE_MS = 30_000;
const SPACE_CACHE_SIZE = 1_000;

type Logs = Pick<Logger, 'info'>;

export class FederationDirectoryClient implements RemoteDirectory, RemoteHierarchy {
  private readonly spaces = new LruCache<string, { at: number; answer: RemoteSpace }>(
    SPACE_CACHE_SIZE,
  );

  constructor(
    private readonly sender: FederationSender,
    private readonly logger: Logs,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The server's published rooms. A filter needs `POST`; a server that does
   * not serve it is asked with `GET` and filtered here (as Synapse). The
   * server's 400, 403 and 404 reach the client as they are; anything else,
   * or no answer, is a 502.
   */
  async publicRooms(server: string, query: PublicRoomsQuery): Promise<JsonObject> {
    if (!isFiltered(query))
      return this.readDirectory(server, await this.getDirectory(server, query));
    const posted = await this.call(server, {
      method: 'POST',
      path: `${V1}/publicRooms`,
      body: publicRoomsBody(query),
    });
    if (!isUnrecognised(posted)) return this.readDirectory(server, posted);
    const answer = this.readDirectory(server, await this.getDirectory(server, query));
    const chunk = (answer.chunk as JsonObject[]).filter((room) => matchesFilter(room, query));
    return { ...answer, chunk };
  }

  /** A space and its children from the first server of `via` that describes it. */
  async space(
    roomId: string,
    via: readonly string[],
    suggestedOnly: boolean,
  ): Promise<RemoteSpace | undefined> {
    const key = `${suggestedOnly ? 's' : 'a'}${roomId}`;
    const cached = this.spaces.get(key);
    if (cached && this.now() - cached.at < SPACE_CACHE_MS) return cached.answer;
    for (const server of via.slice(0, MAX_VIA_TRIED)) {
      const path = `${V1}/hierarchy/${enc(roomId)}?suggested_only=${suggestedOnly}`;
      const response = await this.tryCall(server, { method: 'GET', path });
      const answer =
        response?.status === 200 ? readHierarchyAnswer(roomId, response.body) : undefined;
      if (!answer) continue;
      this.spaces.set(key, { at: this.now(), answer });
      return answer;
    }
    return undefined;
  }

  /** The event a server names nearest the time; undefined when it names none (or fails). */
  async timestampToEvent(
    server: string,
    roomId: string,
    { ts, direction }: TimestampQuery,
  ): Promise<FoundEvent | undefined> {
    const path = `${V1}/timestamp_to_event/${enc(roomId)}?ts=${ts}&dir=${direction}`;
    const response = await this.tryCall(server, { method: 'GET', path });
    return response?.status === 200 ? readTimestampAnswer(response.body) : undefined;
  }

  /** `GET /event/{eventId}`: the one PDU, untrusted; undefined when the server gives none. */
  async event(server: string, eventId: string): Promise<unknown> {
    const response = await this.tryCall(server, {
      method: 'GET',
      path: `${V1}/event/${enc(eventId)}`,
    });
    const pdus = (response?.body as { pdus?: unknown } | undefined)?.pdus;
    return response?.status === 200 && Array.isArray(pdus) && pdus.length === 1
      ? pdus[0]
      : undefined;
  }

  private getDirectory(server: string, query: PublicRoomsQuery): Promise<FederationResponse> {
    const params = new URLSearchParams();
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    if (query.since !== undefined) params.set('since', query.since);
    if (query.network?.includeAllNetworks) params.set('include_all_networks', 'true');
    const instance = query.network?.thirdPartyInstanceId;
    if (instance !== undefined) params.set('third_party_instance_id', instance);
    const search = params.size > 0 ? `?${params.toString()}` : '';
    return this.call(server, { method: 'GET', path: `${V1}/publicRooms${search}` });
  }

  private readDirectory(server: string, response: FederationResponse): JsonObject {
    const answer = response.status === 200 ? readPublicRoomsAnswer(response.body) : undefined;
    if (answer) return answer;
    const status = response.status;
    const errcode = (response.body as { errcode?: unknown } | undefined)?.errcode;
    const passed =
      (status === 400 || status === 403 || status === 404) && typeof errcode === 'string';
    throw new MatrixError(
      passed ? status : 502,
      passed ? errcode : 'M_UNKNOWN',
      `Failed to fetch the room directory: ${describeErrorAnswer(server, status, response.body)}`,
    );
  }

  /** One request; a server that cannot be reached is a 502 for the client. */
  private async call(
    destination: string,
    request: Omit<FederationRequest, 'destination'>,
  ): Promise<FederationResponse> {
    try {
      return await this.sender.request({ destination, timeoutMs: QUERY_TIMEOUT_MS, ...request });
    } catch (err) {
      if (!(err instanceof FederationUnreachable)) throw err;
      throw new MatrixError(502, 'M_UNKNOWN', `Failed to fetch the room directory: ${err.message}`);
    }
  }

  /** One request whose failure only means "ask the next server": logged, undefined. */
  private async tryCall(
    destination: string,
    request: Omit<FederationRequest, 'destination'>,
  ): Promise<FederationResponse | undefined> {
    try {
      const response = await this.sender.request({
        destination,
        timeoutMs: QUERY_TIMEOUT_MS,
        ...request,
      });
      if (response.status !== 200) {
        this.logger.info(
          { destination, status: response.status },
          `federation: ${request.path.split('?')[0]}`,
        );
      }
      return response;
    } catch (err) {
      if (!(err instanceof FederationUnreachable)) throw err;
      this.logger.info({ destination, err: err.message }, 'federation: a query went unanswered');
      return undefined;
    }
  }
}

/** Whether the request needs the `POST` form: a filter (`GET` carries the rest). */
function isFiltered(query: PublicRoomsQuery): boolean {
  return Boolean(query.searchTerm) || query.roomTypes !== undefined;
}

function publicRoomsBody(query: PublicRoomsQuery): JsonObject {
  const filter: JsonObject = {};
  if (query.searchTerm) filter.generic_search_term = query.searchTerm;
  if (query.roomTypes !== undefined) filter.room_types = query.roomTypes;
  const body: JsonObject = { filter };
  if (query.limit !== undefined) body.limit = query.limit;
  if (query.since !== undefined) body.since = query.since;
  if (query.network?.includeAllNetworks) body.include_all_networks = true;
  const instance = query.network?.thirdPartyInstanceId;
  if (instance !== undefined) body.third_party_instance_id = instance;
  return body;
}

/** A server that does not know `POST /publicRooms` (404/405 or M_UNRECOGNIZED). */
function isUnrecognised(response: FederationResponse): boolean {
  const errcode = (response.body as { errcode?: unknown } | undefined)?.errcode;
  return (
    response.status === 405 ||
    ((response.status === 404 || response.status === 400) && errcode === 'M_UNRECOGNIZED')
  );
}

function enc(value: string): string {
  return encodeURIComponent(value);
}
