/**
 * What our users ask of other servers through the Server-Server queries:
 * device and cross-signing keys (`/user/keys/query`), one-time keys
 * (`/user/keys/claim`) for e2ee/remote-keys.ts, and profiles
 * (`/query/profile`) for profiles/profile-service.ts. Every request goes
 * through the federation client (signed, resolved, private addresses refused).
 */
import type { JsonObject } from '../events/pdu.js';
import {
  RemoteServerFailure,
  type ClaimedKeys,
  type RemoteKeyServers,
  type RemoteUserKeys,
} from '../e2ee/remote-keys.js';
import type { ProfileFields } from '../profiles/profile-rules.js';
import type { RemoteProfiles } from '../profiles/profile-service.js';
import { MatrixError } from '../protocol/errors.js';
import {
  FederationUnreachable,
  type FederationRequest,
  type FederationSender,
} from './outbound.js';
import {
  describeErrorAnswer,
  readClaimAnswer,
  readKeysQueryAnswer,
  readProfileAnswer,
} from './query-rules.js';

const V1 = '/_matrix/federation/v1';
/** How long a profile lookup waits for the other server (the client is waiting too). */
const PROFILE_TIMEOUT_MS = 10_000;

export class FederationQueryClient implements RemoteKeyServers, RemoteProfiles {
  constructor(private readonly sender: FederationSender) {}

  async queryKeys(
    server: string,
    userIds: string[],
    timeoutMs: number,
  ): Promise<Map<string, RemoteUserKeys>> {
    // Every device of each user: what is cached serves later questions about any of them.
    const deviceKeys = Object.fromEntries(userIds.map((userId) => [userId, []]));
    const body = await this.keysRequest(
      server,
      '/user/keys/query',
      { device_keys: deviceKeys },
      timeoutMs,
    );
    return readKeysQueryAnswer(userIds, body);
  }

  async claimKeys(
    server: string,
    claims: Record<string, Record<string, string>>,
    timeoutMs: number,
  ): Promise<ClaimedKeys> {
    const body = await this.keysRequest(
      server,
      '/user/keys/claim',
      { one_time_keys: claims },
      timeoutMs,
    );
    return readClaimAnswer(claims, body);
  }

  /**
   * The user's profile from their server. As Synapse: the server's 403 and
   * 404 reach the client as they are; any other answer, or none, is a 502.
   */
  async profile(userId: string, field?: string): Promise<ProfileFields> {
    const server = userId.slice(userId.indexOf(':') + 1);
    const query = new URLSearchParams({ user_id: userId, ...(field ? { field } : {}) });
    let response;
    try {
      response = await this.sender.request({
        destination: server,
        method: 'GET',
        path: `${V1}/query/profile?${query.toString()}`,
        timeoutMs: PROFILE_TIMEOUT_MS,
      });
    } catch (err) {
      if (!(err instanceof FederationUnreachable)) throw err;
      throw new MatrixError(502, 'M_UNKNOWN', `Failed to fetch profile: ${err.message}`);
    }
    const fields = response.status === 200 ? readProfileAnswer(response.body) : undefined;
    if (fields) return fields;
    if (response.status === 403 || response.status === 404) {
      const errcode = (response.body as { errcode?: unknown } | undefined)?.errcode;
      throw new MatrixError(
        response.status,
        typeof errcode === 'string'
          ? errcode
          : response.status === 404
            ? 'M_NOT_FOUND'
            : 'M_FORBIDDEN',
        describeErrorAnswer(server, response.status, response.body),
      );
    }
    throw new MatrixError(
      502,
      'M_UNKNOWN',
      'Failed to fetch profile: ' + describeErrorAnswer(server, response.status, response.body),
    );
  }

  /** A keys request's 200 body; else a RemoteServerFailure (the failures entry). */
  private async keysRequest(
    server: string,
    path: string,
    body: JsonObject,
    timeoutMs: number,
  ): Promise<unknown> {
    const request: FederationRequest = {
      destination: server,
      method: 'POST',
      path: `${V1}${path}`,
      body,
      timeoutMs,
    };
    let response;
    try {
      response = await this.sender.request(request);
    } catch (err) {
      if (!(err instanceof FederationUnreachable)) throw err;
      // The spec's status for a server that could not be reached (Synapse's too).
      throw new RemoteServerFailure(503, err.message);
    }
    if (response.status !== 200) {
      throw new RemoteServerFailure(
        response.status,
        describeErrorAnswer(server, response.status, response.body),
      );
    }
    return response.body;
  }
}
