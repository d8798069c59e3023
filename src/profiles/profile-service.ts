/**
 * Profiles: reading any user's, and editing one's own, field by field. A
 * change of display name or avatar is queued for the user's member events in
 * the same transaction as the change (MemberProfilePropagation does it in the
 * background) and re-announced as presence.
 */
import type { ServerEventBus } from '../domain/server-events.js';
import { errors } from '../protocol/errors.js';
import { KeyedLock } from '../util/keyed-lock.js';
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

/** The profiles, and the users whose existence a read checks. */
export interface ProfileServiceStorage {
  profiles: ProfileStore;
  users: UserReader;
}

export class ProfileService {
  /** Edits are read-modify-write of the whole profile: one at a time per user. */
  private readonly edits = new KeyedLock();

  constructor(
    private readonly storage: ProfileServiceStorage,
    /** Told of each display name or avatar change once committed (`profileChanged`). */
    private readonly bus: ServerEventBus,
  ) {}

  /** GET /profile/{userId}: 404 for an unknown user. */
  async profile(userId: string): Promise<ProfileFields> {
    await this.requireUser(userId);
    return (await this.storage.profiles.getFields(userId)) ?? {};
  }

  /** GET /profile/{userId}/{key}: 404 for an unknown user or an unset field. */
  async field(userId: string, key: string): Promise<ProfileFields> {
    checkKey(key);
    const fields = await this.profile(userId);
    if (!Object.hasOwn(fields, key)) throw errors.notFound('Profile field not set');
    return { [key]: fields[key] };
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
