/**
 * The Server-Server queries we answer about our own users: `/query/profile`,
 * `/user/devices/{userId}`, `/user/keys/query` and `/user/keys/claim`. Another
 * server's user is a 400 (as Synapse). The answers are what our clients'
 * own endpoints give, as another server may see them (e2ee/keys-service.ts:
 * no user-signing keys, no device display names).
 */
import type { KeysService } from '../e2ee/keys-service.js';
import type { JsonObject } from '../e2ee/key-rules.js';
import type { ProfileFields } from '../profiles/profile-rules.js';
import type { ProfileService } from '../profiles/profile-service.js';
import type { DeviceListStore } from '../storage/storage.js';
import { parseKeysClaimBody, parseKeysQueryBody, requireLocalUser } from './query-rules.js';

export interface QueryServingDeps {
  serverName: string;
  keys: KeysService;
  profiles: ProfileService;
  /** The user's device list version: `stream_id`, matched by our m.device_list_update EDUs. */
  deviceLists: Pick<DeviceListStore, 'latestDeviceChangeOf'>;
}

export class QueryServing {
  constructor(private readonly deps: QueryServingDeps) {}

  /** GET /query/profile: the whole public profile, or only `field` (404 when unset). */
  async profile(userId: string, field?: string): Promise<ProfileFields> {
    requireLocalUser(userId, this.deps.serverName);
    return this.deps.profiles.localProfileFor(userId, field);
  }

  /**
   * GET /user/devices/{userId}. An unknown user of ours has no devices (as
   * Synapse: 200, none). Only devices that uploaded keys are listed: the
   * spec's device entry requires `keys` (Synapse lists the others without).
   * `stream_id` is read first: a change committed meanwhile is in the list
   * and its EDU still follows. It is the user's latest device change: the
   * stream_id of their latest m.device_list_update (cross-signing changes,
   * sent as m.signing_key_update, have none), which the next one to a server
   * that had every update names as its `prev_id`, so a server that resynced
   * here can take that one as a delta.
   */
  async userDevices(userId: string): Promise<JsonObject> {
    requireLocalUser(userId, this.deps.serverName);
    const streamId = (await this.deps.deviceLists.latestDeviceChangeOf(userId)) ?? 0;
    const keys = await this.deps.keys.keysForServers({ [userId]: [] });
    const devices = (keys.device_keys as Record<string, Record<string, JsonObject>>)[userId] ?? {};
    const master = (keys.master_keys as Record<string, JsonObject>)[userId];
    const selfSigning = (keys.self_signing_keys as Record<string, JsonObject>)[userId];
    return {
      user_id: userId,
      stream_id: streamId,
      devices: Object.entries(devices)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([deviceId, deviceKeys]) => ({ device_id: deviceId, keys: deviceKeys })),
      ...(master ? { master_key: master } : {}),
      ...(selfSigning ? { self_signing_key: selfSigning } : {}),
    };
  }

  /** POST /user/keys/query. */
  async keysQuery(body: unknown): Promise<JsonObject> {
    return this.deps.keys.keysForServers(parseKeysQueryBody(body, this.deps.serverName));
  }

  /** POST /user/keys/claim: one-time keys (or fallback keys), each given out once. */
  async keysClaim(body: unknown): Promise<JsonObject> {
    const claims = parseKeysClaimBody(body, this.deps.serverName);
    return { one_time_keys: await this.deps.keys.claimLocal(claims) };
  }
}
