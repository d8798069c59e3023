/**
 * Profiles: reading any user's, and editing one's own, field by field. A
 * change of display name or avatar is queued for the user's member events in
 * the same transaction as the change (MemberProfilePropagation does it in the
 * background) and re-announced as presence.
 */
import type { ServerEventBus } from '../domain/server-events.js';
import { isValidUserId, serverNameOf } from '../events/auth/ids.js';
import { errors } from '../protocol/errors.js';
import { KeyedLock } from '../util/keyed-lock.js';
import { LruCache } from '../util/lru-cache.js';
import type { UserReader } from '../storage/readers.js';
import type { ProfileStore } from '../storage/storage.js';
import {
  AVATAR_URL,
  checkKey,
  DISPLAYNAME,
  isPropagatedKey,
  valueFromBody,
  withField,
  withoutField,
  type ProfileFields,
} from './profile-rules.js';

/**
 * Another server's users' profiles (federation/query-client.ts: `/query/profile`).
 * Throws a MatrixError for the client: the server's 403 or 404, else 502.
 */
export interface RemoteProfiles {
  /** The whole public profile, or (with `field`) an answer that should hold only that field. */
  profile(userId: string, field?: string): Promise<ProfileFields>;
}

/**
 * How long a remote profile is reused. Synapse keeps none (beyond member
 * events); a few seconds spare the other server a client's burst of reads
 * (a profile, then each field) and a newer name is seen soon after.
 */
const REMOTE_PROFILE_TTL_MS = 30_000;
const REMOTE_PROFILES_CACHED = 1_000;

/** The profiles, and the users whose existence a read checks. */
export interface ProfileServiceStorage {
  profiles: ProfileStore;
  users: UserReader;
}

export class ProfileService {
  /** Edits are read-modify-write of the whole profile: one at a time per user. */
  private readonly edits = new KeyedLock();
  private remote?: { serverName: string; profiles: RemoteProfiles };
  /** Remote whole profiles: the answer (or the fetch in flight, which concurrent reads share). */
  private readonly remoteCache = new LruCache<
    string,
    { fields: Promise<ProfileFields>; until: number }
  >(REMOTE_PROFILES_CACHED);

  constructor(
    private readonly storage: ProfileServiceStorage,
    /** Told of each display name or avatar change once committed (`profileChanged`). */
    private readonly bus: ServerEventBus,
  ) {}

  /** Other servers' users' profiles are asked of their servers from now on (federation). */
  useRemote(serverName: string, profiles: RemoteProfiles): void {
    this.remote = { serverName, profiles };
  }

  /** GET /profile/{userId}: 404 for an unknown user; another server's user from their server. */
  async profile(userId: string): Promise<ProfileFields> {
    if (this.isRemote(userId)) return this.remoteProfile(userId);
    return this.localProfile(userId);
  }

  /** GET /profile/{userId}/{key}: 404 for an unknown user or an unset field. */
  async field(userId: string, key: string): Promise<ProfileFields> {
    checkKey(key);
    const fields = this.isRemote(userId)
      ? await this.remoteProfile(userId)
      : await this.localProfile(userId);
    return onlyField(fields, key);
  }

  /**
   * `/query/profile` for another server (the caller checked the user is ours):
   * the whole profile, or one field; 404 for an unknown user or an unset field.
   */
  async localProfileFor(userId: string, field?: string): Promise<ProfileFields> {
    const fields = await this.localProfile(userId);
    if (field === undefined) return fields;
    return onlyField(fields, field);
  }

  private async localProfile(userId: string): Promise<ProfileFields> {
    await this.requireUser(userId);
    return (await this.storage.profiles.getFields(userId)) ?? {};
  }

  private isRemote(userId: string): boolean {
    return this.remote !== undefined && serverNameOf(userId) !== this.remote.serverName;
  }

  /** A remote user's profile, reused for a few seconds; a failure is not kept. */
  private async remoteProfile(userId: string): Promise<ProfileFields> {
    if (!isValidUserId(userId)) throw errors.invalidParam('Not a valid user ID');
    const now = Date.now();
    const cached = this.remoteCache.get(userId);
    if (cached && cached.until > now) return cached.fields;
    const fields = this.remote!.profiles.profile(userId);
    const entry = { fields, until: now + REMOTE_PROFILE_TTL_MS };
    this.remoteCache.set(userId, entry);
    fields.catch(() => {
      if (this.remoteCache.get(userId) === entry) this.remoteCache.delete(userId);
    });
    return fields;
  }

  async setField(requester: string, userId: string, key: string, body: Record<string, unknown>) {
    checkKey(key);
    await this.requireOwn(requester, userId);
    const value = valueFromBody(key, body);
    // An empty display name or avatar clears it, as Synapse does (Element clears them so).
    const clears = value === '' && (key === DISPLAYNAME || key === AVATAR_URL);
    await this.edit(userId, key, (fields) =>
      clears ? withoutField(fields, key) : withField(fields, key, value),
    );
  }

  async deleteField(requester: string, userId: string, key: string) {
    checkKey(key);
    await this.requireOwn(requester, userId);
    await this.edit(userId, key, (fields) => withoutField(fields, key));
  }

  private async edit(userId: string, key: string, change: (f: ProfileFields) => ProfileFields) {
    const propagate = isPropagatedKey(key);
    await this.edits.run(userId, async () => {
      const fields = (await this.storage.profiles.getFields(userId)) ?? {};
      await this.storage.profiles.setFields(userId, change(fields), propagate);
    });
    if (propagate) this.bus.emit('profileChanged', userId);
  }

  private async requireOwn(requester: string, userId: string): Promise<void> {
    if (requester !== userId) throw errors.forbidden("Cannot change another user's profile");
    await this.requireUser(userId);
  }

  private async requireUser(userId: string): Promise<void> {
    const user = await this.storage.users.getUser(userId);
    if (!user) throw errors.notFound('Profile not found');
  }
}

/** The one field of a profile: 404 when it is not set. */
function onlyField(fields: ProfileFields, key: string): ProfileFields {
  if (!Object.hasOwn(fields, key) || fields[key] === null) {
    throw errors.notFound('Profile field not set');
  }
  return { [key]: fields[key] };
}
