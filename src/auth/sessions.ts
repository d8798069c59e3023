/**
 * Access tokens and the devices they belong to. Resolving a token is on the path
 * of nearly every request, so owners are cached by token hash; every operation
 * that revokes tokens goes through here and drops them from the cache.
 */
import type {
  DeviceStore,
  LastSeen,
  NewSession,
  TokenOwner,
  TokenStore,
} from '../storage/storage.js';
import { generateAccessToken, generateDeviceId, hashToken } from './secrets.js';

const MAX_CACHED_TOKENS = 100_000;
const LAST_SEEN_FLUSH_MS = 10_000;

export interface IssuedSession {
  accessToken: string;
  deviceId: string;
}

/** The tokens, and the devices' last-seen times this service batches. */
export interface SessionServiceStorage {
  tokens: TokenStore;
  devices: Pick<DeviceStore, 'recordLastSeen'>;
}

/** An admin's puppet token may carry an expiry (admin/account-moderation-service.ts); others never expire. */
const unexpired = (owner: TokenOwner, now = Date.now()): TokenOwner | undefined =>
  owner.validUntilMs !== undefined && owner.validUntilMs <= now ? undefined : owner;

/** Longer User-Agent headers are cut to this length before they are stored. */
export const MAX_USER_AGENT_LENGTH = 512;

export class SessionService {
  private readonly cache = new Map<string, TokenOwner>();
  /** Bumped on every revocation, so a lookup that raced with one is not cached. */
  private generation = 0;
  private readonly pendingLastSeen = new Map<string, LastSeen>();
  private readonly flushTimer: NodeJS.Timeout;

  constructor(private readonly storage: SessionServiceStorage) {
    this.flushTimer = setInterval(() => void this.flushLastSeen(), LAST_SEEN_FLUSH_MS);
    this.flushTimer.unref();
  }

  async authenticate(accessToken: string): Promise<TokenOwner | undefined> {
    const tokenHash = hashToken(accessToken);
    const cached = this.cache.get(tokenHash);
    if (cached) return unexpired(cached);
    const generation = this.generation;
    const owner = await this.storage.tokens.lookup(tokenHash);
    if (owner && generation === this.generation) {
      if (this.cache.size >= MAX_CACHED_TOKENS) this.evictOldest();
      this.cache.set(tokenHash, owner);
    }
    return owner && unexpired(owner);
  }

  /** Creates a device (or keeps the given one) with a fresh token; the device's older tokens die. */
  async issue(
    userId: string,
    requestedDeviceId: string | undefined,
    initialDisplayName: string | null,
    ip: string | null,
  ): Promise<IssuedSession> {
    const { record, issued } = this.prepare(userId, requestedDeviceId, initialDisplayName, ip);
    this.forget(await this.storage.tokens.createSession(record));
    return issued;
  }

  /** A new token and device ID, and the record that stores them (for callers with their own transaction). */
  prepare(
    userId: string,
    requestedDeviceId: string | undefined,
    initialDisplayName: string | null,
    ip: string | null,
    now = Date.now(),
  ): { record: NewSession; issued: IssuedSession } {
    const accessToken = generateAccessToken();
    const deviceId = requestedDeviceId ?? generateDeviceId();
    return {
      record: { userId, deviceId, initialDisplayName, tokenHash: hashToken(accessToken), ip, now },
      issued: { accessToken, deviceId },
    };
  }

  /** Drops revoked tokens from the cache; call after every storage change that revokes tokens. */
  forget(tokenHashes: string[]): void {
    this.generation++;
    for (const tokenHash of tokenHashes) this.cache.delete(tokenHash);
  }

  /** Drops every cached token of a user whose account changed (e.g. a guest upgraded). */
  forgetUser(userId: string): void {
    this.generation++;
    for (const [tokenHash, owner] of this.cache) {
      if (owner.userId === userId) this.cache.delete(tokenHash);
    }
  }

  /** Notes that a device was used; written to storage in batches. */
  touch(owner: TokenOwner, ip: string, userAgent: string | undefined): void {
    const key = `${owner.userId}|${owner.deviceId}`;
    // Bounded, so no client can bloat the devices table through its header.
    const agent = userAgent === undefined ? null : userAgent.slice(0, MAX_USER_AGENT_LENGTH);
    const pending = this.pendingLastSeen.get(key);
    if (pending) {
      pending.ts = Date.now();
      pending.ip = ip;
      pending.userAgent = agent;
    } else {
      this.pendingLastSeen.set(key, {
        userId: owner.userId,
        deviceId: owner.deviceId,
        ts: Date.now(),
        ip,
        userAgent: agent,
      });
    }
  }

  /** Last-seen data not yet written, so device listings are current. */
  pendingLastSeenFor(userId: string, deviceId: string): LastSeen | undefined {
    return this.pendingLastSeen.get(`${userId}|${deviceId}`);
  }

  async flushLastSeen(): Promise<void> {
    if (this.pendingLastSeen.size === 0) return;
    const entries = [...this.pendingLastSeen.values()];
    this.pendingLastSeen.clear();
    await this.storage.devices.recordLastSeen(entries);
  }

  async close(): Promise<void> {
    clearInterval(this.flushTimer);
    await this.flushLastSeen();
  }

  private evictOldest(): void {
    const oldest = this.cache.keys().next();
    if (!oldest.done) this.cache.delete(oldest.value);
  }
}
