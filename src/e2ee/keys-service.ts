/**
 * Device keys, one-time keys and fallback keys: /keys/upload, /keys/query,
 * /keys/claim, /keys/changes, and the key counts of /sync.
 */
import { errors } from '../protocol/errors.js';
import type { Viewer } from '../sync/event-views.js';
import type { MembershipReader } from '../storage/readers.js';
import type {
  CrossSigningKeyType,
  E2eeKeyStore,
  KeyClaim,
  Storage,
  StoredSignature,
} from '../storage/storage.js';
import type { StreamPositions } from '../sync/stream-token.js';
import type { StreamContext, SyncResponseParts, SyncStreamProvider } from '../sync/sync-streams.js';
import type { DeviceListDelta, DeviceLists } from './device-lists.js';
import type { RemoteKeys } from './remote-keys.js';
import {
  checkDeviceKeys,
  checkSameIdentity,
  crossSigningPublicKey,
  isObject,
  lastPerAlgorithm,
  parseKeyMap,
  withSignatures,
  type JsonObject,
} from './key-rules.js';

/** The algorithm clients count on: its count is always reported, even at zero. */
const SIGNED_CURVE25519 = 'signed_curve25519';

export interface KeyUploadRequest {
  deviceKeys: unknown;
  oneTimeKeys: unknown;
  fallbackKeys: unknown;
}

type UserMap<T> = Record<string, T>;

/** The keys, and the viewer's joined rooms (whose members' device lists /keys/changes reads). */
export interface KeysServiceStorage {
  e2eeKeys: E2eeKeyStore;
  rooms: MembershipReader;
}

/** The spec's default `timeout` of /keys/query and /keys/claim (10 s). */
export const DEFAULT_REMOTE_TIMEOUT_MS = 10_000;

export class KeysService {
  constructor(
    private readonly storage: KeysServiceStorage,
    private readonly serverName: string,
    private readonly deviceLists: DeviceLists,
    /** Other servers' users' keys; without it they are failures (no federation). */
    private readonly remote?: RemoteKeys,
  ) {}

  /** POST /keys/upload: stores what is given, all or nothing; returns the one-time key counts. */
  async upload(owner: Viewer, request: KeyUploadRequest): Promise<Record<string, number>> {
    const { userId, deviceId } = owner;
    const deviceKeysJson = await this.changedDeviceKeys(owner, request.deviceKeys);
    const result = await this.storage.e2eeKeys.uploadKeys({
      userId,
      deviceId,
      deviceKeysJson,
      oneTimeKeys: parseKeyMap(request.oneTimeKeys, 'one_time_keys'),
      fallbackKeys: lastPerAlgorithm(parseKeyMap(request.fallbackKeys, 'fallback_keys')),
    });
    if (!result.ok) {
      throw errors.invalidParam(`One-time key ${result.conflictingKeyId} already exists`);
    }
    if (result.deviceListPosition !== undefined) {
      await this.deviceLists.announce(userId, result.deviceListPosition);
    }
    return this.oneTimeKeyCounts(owner);
  }

  /** The uploaded device keys if they are new or changed; undefined for none or an identical re-upload. */
  private async changedDeviceKeys(owner: Viewer, deviceKeys: unknown): Promise<string | undefined> {
    if (deviceKeys === undefined || deviceKeys === null) return undefined;
    const json = checkDeviceKeys(deviceKeys, owner.userId, owner.deviceId);
    const [stored] = await this.storage.e2eeKeys.deviceKeys(owner.userId, [owner.deviceId]);
    if (!stored) return json;
    if (stored.keyJson === json) return undefined;
    checkSameIdentity(stored.keyJson, json);
    return json;
  }

  async oneTimeKeyCounts(owner: Viewer): Promise<Record<string, number>> {
    const counts = await this.storage.e2eeKeys.oneTimeKeyCounts(owner.userId, owner.deviceId);
    return { [SIGNED_CURVE25519]: 0, ...counts };
  }

  /**
   * POST /keys/query: our users' keys from storage, other servers' users'
   * from their servers (RemoteKeys: in parallel, each within `timeoutMs`).
   */
  async query(
    viewerId: string,
    request: UserMap<string[]>,
    timeoutMs = DEFAULT_REMOTE_TIMEOUT_MS,
  ): Promise<JsonObject> {
    const crossSigning = emptyCrossSigning();
    const failures: JsonObject = {};
    const { local, remote } = this.split(Object.keys(request), failures);
    const [deviceKeys, remoteAnswer] = await Promise.all([
      this.localDeviceKeys(local, request, viewerId, crossSigning),
      this.remote && remote.length > 0 ? this.remote.query(remote, timeoutMs) : undefined,
    ]);
    if (remoteAnswer) {
      Object.assign(failures, remoteAnswer.failures);
      for (const [userId, keys] of remoteAnswer.users) {
        deviceKeys[userId] = onlyDevices(keys.devices, request[userId] ?? []);
        if (keys.master) crossSigning.master[userId] = keys.master;
        if (keys.selfSigning) crossSigning.self_signing[userId] = keys.selfSigning;
      }
    }
    return {
      device_keys: deviceKeys,
      failures,
      master_keys: crossSigning.master,
      self_signing_keys: crossSigning.self_signing,
      user_signing_keys: crossSigning.user_signing,
    };
  }

  /**
   * Our users' keys as another server may see them (`/user/keys/query`):
   * no user-signing keys, only the owners' own signatures on the master keys
   * and no device display names (Synapse's default,
   * `allow_device_name_lookup_over_federation: false`).
   */
  async keysForServers(request: UserMap<string[]>): Promise<JsonObject> {
    const crossSigning = emptyCrossSigning();
    const deviceKeys = await this.localDeviceKeys(
      Object.keys(request),
      request,
      undefined,
      crossSigning,
    );
    return {
      device_keys: deviceKeys,
      master_keys: crossSigning.master,
      self_signing_keys: crossSigning.self_signing,
    };
  }

  /** Our users among these, the others' servers (with RemoteKeys), and failures for the rest. */
  private split(userIds: string[], failures: JsonObject): { local: string[]; remote: string[] } {
    const local: string[] = [];
    const remote: string[] = [];
    for (const userId of userIds) {
      const server = serverOf(userId);
      if (server === this.serverName) local.push(userId);
      else if (this.remote) remote.push(userId);
      // No federation: the spec's way to say a server could not be asked.
      else failures[server] = { status: 503, message: 'Federation is not available' };
    }
    return { local, remote };
  }

  /** Device keys of our users (the viewer's view of them; none: another server's). */
  private async localDeviceKeys(
    userIds: string[],
    request: UserMap<string[]>,
    viewerId: string | undefined,
    crossSigning: CrossSigningMaps,
  ): Promise<UserMap<JsonObject>> {
    const deviceKeys: UserMap<JsonObject> = {};
    for (const userId of userIds) {
      const signatures = await this.storage.e2eeKeys.signaturesOn(userId);
      const withNames = viewerId !== undefined;
      deviceKeys[userId] = await this.devicesOf(
        userId,
        request[userId] ?? [],
        signatures,
        withNames,
      );
      await this.addCrossSigningKeys(viewerId, userId, signatures, crossSigning);
    }
    return deviceKeys;
  }

  private async devicesOf(
    userId: string,
    deviceIds: string[],
    signatures: StoredSignature[],
    withDisplayNames: boolean,
  ): Promise<JsonObject> {
    const devices: JsonObject = {};
    for (const stored of await this.storage.e2eeKeys.deviceKeys(userId, deviceIds)) {
      const keys = withSignatures(
        JSON.parse(stored.keyJson) as JsonObject,
        signatures,
        stored.deviceId,
      );
      const unsigned = isObject(keys.unsigned) ? keys.unsigned : {};
      if (withDisplayNames && stored.displayName !== null) {
        unsigned.device_display_name = stored.displayName;
      }
      devices[stored.deviceId] = { ...keys, unsigned };
    }
    return devices;
  }

  /**
   * The user's cross-signing keys with the signatures on them that the viewer
   * may see: the owner's own, and the viewer's (their user-signing key's
   * signature on someone's master key is for the viewer alone). Without a
   * viewer (another server asks), the owner's only.
   */
  private async addCrossSigningKeys(
    viewerId: string | undefined,
    userId: string,
    signatures: StoredSignature[],
    into: CrossSigningMaps,
  ): Promise<void> {
    const keys = await this.storage.e2eeKeys.crossSigningKeys(userId);
    const visible = signatures.filter(
      (s) => s.signerUserId === userId || s.signerUserId === viewerId,
    );
    for (const [type, json] of Object.entries(keys) as [CrossSigningKeyType, string][]) {
      // Only the owner sees their user-signing key.
      if (type === 'user_signing' && userId !== viewerId) continue;
      const key = JSON.parse(json) as JsonObject;
      into[type][userId] = withSignatures(key, visible, crossSigningPublicKey(key));
    }
  }

  /**
   * POST /keys/claim: one key per (user, device, algorithm) asked for; other
   * servers' users' from their servers, in parallel, each within `timeoutMs`.
   */
  async claim(
    request: UserMap<Record<string, string>>,
    timeoutMs = DEFAULT_REMOTE_TIMEOUT_MS,
  ): Promise<JsonObject> {
    const failures: JsonObject = {};
    const { local, remote } = this.split(Object.keys(request), failures);
    const remoteClaims = Object.fromEntries(remote.map((userId) => [userId, request[userId]!]));
    const [oneTimeKeys, remoteAnswer] = await Promise.all([
      this.claimLocal(Object.fromEntries(local.map((userId) => [userId, request[userId]!]))),
      this.remote && remote.length > 0 ? this.remote.claim(remoteClaims, timeoutMs) : undefined,
    ]);
    if (remoteAnswer) {
      Object.assign(failures, remoteAnswer.failures);
      Object.assign(oneTimeKeys, remoteAnswer.keys);
    }
    return { one_time_keys: oneTimeKeys, failures };
  }

  /** Claims of our users' keys (`/user/keys/claim` serves this for other servers). */
  async claimLocal(
    request: UserMap<Record<string, string>>,
  ): Promise<UserMap<Record<string, JsonObject>>> {
    const claims: KeyClaim[] = [];
    for (const [userId, devices] of Object.entries(request)) {
      for (const [deviceId, algorithm] of Object.entries(devices)) {
        claims.push({ userId, deviceId, algorithm });
      }
    }
    const oneTimeKeys: UserMap<Record<string, JsonObject>> = {};
    for (const key of await this.storage.e2eeKeys.claimKeys(claims)) {
      const devices = (oneTimeKeys[key.userId] ??= {});
      devices[key.deviceId] = { [`${key.algorithm}:${key.keyId}`]: JSON.parse(key.keyJson) };
    }
    return oneTimeKeys;
  }

  /** GET /keys/changes: device list changes between two sync tokens. */
  async changes(
    viewerId: string,
    from: StreamPositions,
    to: StreamPositions,
  ): Promise<DeviceListDelta> {
    return this.deviceLists.delta({
      viewerId,
      since: from,
      upper: to,
      joinedRoomIds: await this.storage.rooms.roomsWithMembership(viewerId, 'join'),
    });
  }
}

type CrossSigningMaps = Record<CrossSigningKeyType, UserMap<JsonObject>>;

function emptyCrossSigning(): CrossSigningMaps {
  return { master: {}, self_signing: {}, user_signing: {} };
}

/** The devices asked for (all of them for an empty list). */
function onlyDevices(devices: Record<string, JsonObject>, deviceIds: string[]): JsonObject {
  if (deviceIds.length === 0) return { ...devices };
  return Object.fromEntries(
    deviceIds.filter((id) => Object.hasOwn(devices, id)).map((id) => [id, devices[id]]),
  );
}

function serverOf(userId: string): string {
  return userId.slice(userId.indexOf(':') + 1);
}

/** The keys only. */
export type KeyCountsProviderStorage = Pick<Storage, 'e2eeKeys'>;

/** device_one_time_keys_count and device_unused_fallback_key_types, in every /sync. */
export class KeyCountsProvider implements SyncStreamProvider {
  readonly name = 'keyCounts';
  constructor(
    private readonly keys: KeysService,
    private readonly storage: KeyCountsProviderStorage,
  ) {}

  async contribute(context: StreamContext, parts: SyncResponseParts): Promise<boolean> {
    const { userId, deviceId } = context.viewer;
    parts.top.device_one_time_keys_count = await this.keys.oneTimeKeyCounts(context.viewer);
    parts.top.device_unused_fallback_key_types = await this.storage.e2eeKeys.unusedFallbackKeyTypes(
      userId,
      deviceId,
    );
    // Counts change when others claim keys; that alone does not end a long-poll (as Synapse).
    return false;
  }
}
