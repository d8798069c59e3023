/**
 * Other servers' users' keys, for /keys/query and /keys/claim: asked of their
 * servers (federation/query-client.ts implements RemoteKeyServers), one
 * request per server, all servers in parallel, each failure recorded under its
 * server's name (the spec's `failures`).
 *
 * Device keys are cached per user, but only for users who share a room with
 * one of our users: their servers send us `m.device_list_update` and
 * `m.signing_key_update` EDUs, and each one drops the entry (the EDU receiver
 * records the change through DeviceLists, which calls `forget`), so the next
 * query asks again. That is what Synapse users expect: the keys a client sees
 * are those the user's server had when it last told us of a change. A user
 * sharing no room sends us no EDUs, so their keys are asked for every time (as
 * Synapse, which does not track such users). Room membership moves the line:
 * a remote user's member event, or one of ours joining a room, drops the
 * entries it may have made stale (the EDUs of the time between went
 * elsewhere). In memory only: a restart asks again.
 */
import type { EventRecord } from '../events/records.js';
import type { JsonObject } from './key-rules.js';
import { LruCache } from '../util/lru-cache.js';

/** A user's keys as their server answered `/user/keys/query`. */
export interface RemoteUserKeys {
  /** Device ID → the device's keys (with `unsigned`, as given). */
  devices: Record<string, JsonObject>;
  master?: JsonObject;
  selfSigning?: JsonObject;
}

/** One-time keys claimed: user → device → `<algorithm>:<key_id>` → key. */
export type ClaimedKeys = Record<string, Record<string, Record<string, unknown>>>;

/** A server that gave no usable answer: its entry in the `failures` map. */
export class RemoteServerFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'RemoteServerFailure';
  }

  /** The failure as clients read it (Synapse's shape). */
  toJson(): JsonObject {
    return { status: this.status, message: this.message };
  }
}

/** The servers asked (federation's `/user/keys/query` and `/user/keys/claim`). */
export interface RemoteKeyServers {
  /** Every device of each user (all of them the server's), and their cross-signing keys. */
  queryKeys(
    server: string,
    userIds: string[],
    timeoutMs: number,
  ): Promise<Map<string, RemoteUserKeys>>;
  /** One key per (user, device, algorithm), as `/user/keys/claim` answers. */
  claimKeys(
    server: string,
    claims: Record<string, Record<string, string>>,
    timeoutMs: number,
  ): Promise<ClaimedKeys>;
}

export interface RemoteKeysDeps {
  servers: RemoteKeyServers;
  /** Whether one of our users shares a room with the user now (their server tells us of changes). */
  sharesRoomWithLocalUser(userId: string): Promise<boolean>;
  /** Joined members of a room now (a local join makes their cached keys doubtful). */
  joinedMembers(roomId: string): Promise<string[]>;
  serverName: string;
  onError?: (err: unknown) => void;
}

/** What a query over several servers gives: each user's keys, and the servers that failed. */
export interface RemoteQueryResult {
  users: Map<string, RemoteUserKeys>;
  failures: Record<string, JsonObject>;
}

/** Users whose keys are kept (each entry a few devices' keys). */
const CACHED_USERS = 10_000;
/** Users whose latest `forget` is remembered (a number each), for fetches in flight. */
const FORGETS_REMEMBERED = 100_000;

export class RemoteKeys {
  private readonly cache = new LruCache<string, RemoteUserKeys>(CACHED_USERS);
  /**
   * Bumped by every `forget`: a fetch that started before a forget must not
   * put its (perhaps older) answer back into the cache.
   */
  private readonly generations = new LruCache<string, number>(FORGETS_REMEMBERED);
  private generation = 0;

  constructor(private readonly deps: RemoteKeysDeps) {}

  /** The keys of these users, grouped by server; cached users are not asked again. */
  async query(userIds: readonly string[], timeoutMs: number): Promise<RemoteQueryResult> {
    const users = new Map<string, RemoteUserKeys>();
    const toAsk = new Map<string, string[]>();
    for (const userId of new Set(userIds)) {
      const cached = this.cache.get(userId);
      if (cached) users.set(userId, cached);
      else pushTo(toAsk, serverOf(userId), userId);
    }
    const failures: Record<string, JsonObject> = {};
    await Promise.all(
      [...toAsk].map(async ([server, asked]) => {
        try {
          for (const [userId, keys] of await this.fetch(server, asked, timeoutMs)) {
            users.set(userId, keys);
          }
        } catch (err) {
          failures[server] = failureOf(err).toJson();
        }
      }),
    );
    return { users, failures };
  }

  /** One-time keys from each server, in parallel. */
  async claim(
    claims: Record<string, Record<string, string>>,
    timeoutMs: number,
  ): Promise<{ keys: ClaimedKeys; failures: Record<string, JsonObject> }> {
    const byServer = new Map<string, Record<string, Record<string, string>>>();
    for (const [userId, devices] of Object.entries(claims)) {
      const server = serverOf(userId);
      const claimsOf = byServer.get(server) ?? {};
      claimsOf[userId] = devices;
      byServer.set(server, claimsOf);
    }
    const keys: ClaimedKeys = {};
    const failures: Record<string, JsonObject> = {};
    await Promise.all(
      [...byServer].map(async ([server, serverClaims]) => {
        try {
          Object.assign(keys, await this.deps.servers.claimKeys(server, serverClaims, timeoutMs));
        } catch (err) {
          failures[server] = failureOf(err).toJson();
        }
      }),
    );
    return { keys, failures };
  }

  /** The user's list changed (an EDU from their server): the next query asks again. */
  forget(userId: string): void {
    this.cache.delete(userId);
    this.generations.set(userId, ++this.generation);
  }

  /**
   * `eventsCommitted`: a remote user's member event, or one of our users
   * joining a room (its remote members' EDUs may have gone elsewhere while no
   * user of ours was there), drops the cached keys it concerns. Never throws.
   */
  eventsCommitted(records: readonly EventRecord[]): void {
    for (const { pdu, roomId } of records) {
      if (pdu.type !== 'm.room.member' || typeof pdu.state_key !== 'string') continue;
      const userId = pdu.state_key;
      if (serverOf(userId) !== this.deps.serverName) {
        this.forget(userId);
      } else if ((pdu.content as { membership?: unknown }).membership === 'join') {
        void this.forgetMembersOf(roomId);
      }
    }
  }

  private async forgetMembersOf(roomId: string): Promise<void> {
    try {
      for (const userId of await this.deps.joinedMembers(roomId)) {
        if (serverOf(userId) !== this.deps.serverName) this.forget(userId);
      }
    } catch (err) {
      this.deps.onError?.(err);
    }
  }

  /** Asks the server, and caches the answers of users whose changes we will hear of. */
  private async fetch(
    server: string,
    userIds: string[],
    timeoutMs: number,
  ): Promise<Map<string, RemoteUserKeys>> {
    const started = new Map(userIds.map((userId) => [userId, this.generations.get(userId)]));
    const answer = await this.deps.servers.queryKeys(server, userIds, timeoutMs);
    for (const [userId, keys] of answer) {
      if (this.generations.get(userId) !== started.get(userId)) continue;
      if (await this.deps.sharesRoomWithLocalUser(userId)) this.cache.set(userId, keys);
    }
    return answer;
  }
}

/** Anything thrown while asking a server, as its failures entry. */
function failureOf(err: unknown): RemoteServerFailure {
  if (err instanceof RemoteServerFailure) return err;
  // The spec's status for a server that could not be reached.
  return new RemoteServerFailure(503, err instanceof Error ? err.message : String(err));
}

function pushTo(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function serverOf(userId: string): string {
  return userId.slice(userId.indexOf(':') + 1);
}
