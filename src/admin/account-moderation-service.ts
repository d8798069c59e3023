/**
 * User moderation for server admins: locks and suspensions (the spec's
 * `/_matrix/client/v1/admin/{lock,suspend}` and Synapse's), shadow bans,
 * message rate limit overrides, tokens to act as a user, a user's memberships
 * and pushers. The flags take effect at the user's next request: they come
 * with the token lookup, whose cache is dropped for the user on each change.
 * What each flag refuses is auth/account-moderation-rules.ts.
 */
import type { MessageRateLimit } from '../auth/message-rate-limit.js';
import { generateAccessToken, generateDeviceId, hashToken } from '../auth/secrets.js';
import type { SessionService } from '../auth/sessions.js';
import { errors } from '../protocol/errors.js';
import type { MembershipReader, UserReader } from '../storage/readers.js';
import type {
  AccountModerationStore,
  ModerationFlags,
  PusherStore,
  UserRecord,
} from '../storage/storage.js';
import { checkLocalUserId } from './admin-rules.js';
import { adminPusherJson, rateLimitOverrideJson } from './account-moderation-rules.js';

export interface AccountModerationServiceStorage {
  users: UserReader;
  moderation: Pick<AccountModerationStore, 'setFlags' | 'setUserType' | 'createPuppetToken'>;
  rooms: MembershipReader;
  pushers: Pick<PusherStore, 'list'>;
}

export interface AccountModerationDeps {
  sessions: Pick<SessionService, 'forgetUser'>;
  messages: Pick<MessageRateLimit, 'override' | 'setOverride' | 'deleteOverride'>;
}

/** Every membership a member event can hold, for `users/{userId}/memberships`. */
const MEMBERSHIPS = ['join', 'invite', 'knock', 'leave', 'ban'];

type Flag = keyof ModerationFlags;

export class AccountModerationService {
  constructor(
    private readonly serverName: string,
    private readonly storage: AccountModerationServiceStorage,
    private readonly deps: AccountModerationDeps,
  ) {}

  /** The spec's GET: 404 for an unknown or deactivated user. */
  async flag(userId: string, flag: Flag): Promise<boolean> {
    return (await this.activeUser(userId))[flag];
  }

  /**
   * The spec's PUT `/admin/lock` and `/admin/suspend`: as its errors say, an
   * admin can neither lock or suspend themselves nor another admin (403).
   */
  async setFlagAsSpec(actorId: string, userId: string, flag: Flag, value: boolean): Promise<void> {
    const user = await this.activeUser(userId);
    if (userId === actorId) throw errors.forbidden('You cannot do this to your own account');
    if (user.isAdmin && value) throw errors.forbidden('The user is a server admin');
    await this.setFlag(userId, flag, value);
  }

  /** Synapse's Admin API: any local user who exists (Synapse checks no more). */
  async setFlagAsSynapse(userId: string, flag: Flag, value: boolean): Promise<void> {
    await this.existingUser(userId);
    await this.setFlag(userId, flag, value);
  }

  /** `PUT v2/users/{userId}`'s `user_type`. */
  async setUserType(userId: string, userType: string | null): Promise<void> {
    if (!(await this.storage.moderation.setUserType(userId, userType))) throw userNotFound();
  }

  async rateLimitOverride(userId: string) {
    await this.existingUser(userId);
    return rateLimitOverrideJson(await this.deps.messages.override(userId));
  }

  async setRateLimitOverride(
    userId: string,
    override: { messagesPerSecond: number; burstCount: number },
  ) {
    await this.existingUser(userId);
    await this.deps.messages.setOverride(userId, override);
    return rateLimitOverrideJson(override);
  }

  async deleteRateLimitOverride(userId: string): Promise<void> {
    await this.existingUser(userId);
    await this.deps.messages.deleteOverride(userId);
  }

  /**
   * `POST users/{userId}/login`: a token acting as the user. As Synapse's
   * puppet tokens, it belongs to no device the user can see (Weft stores a
   * device ID with it, but no devices row: the user's device list, keys and
   * last-seen times leave it out); logging it out revokes only it.
   */
  async loginAs(actorId: string, userId: string, validUntilMs: number | null): Promise<string> {
    const user = await this.existingUser(userId);
    // As Synapse: an admin logs in as themselves the ordinary way.
    if (userId === actorId) throw errors.invalidParam('Cannot use admin API to login as self');
    if (user.deactivated) throw errors.invalidParam('The user is deactivated');
    const accessToken = generateAccessToken();
    await this.storage.moderation.createPuppetToken({
      userId,
      deviceId: generateDeviceId(),
      tokenHash: hashToken(accessToken),
      validUntilMs,
      now: Date.now(),
    });
    return accessToken;
  }

  /** Every room the user has a membership in, with it (Synapse's `memberships`). */
  async memberships(userId: string): Promise<{ memberships: Record<string, string> }> {
    await this.existingUser(userId);
    const memberships: Record<string, string> = {};
    for (const membership of MEMBERSHIPS) {
      for (const roomId of await this.storage.rooms.roomsWithMembership(userId, membership)) {
        memberships[roomId] = membership;
      }
    }
    return { memberships };
  }

  async pushers(userId: string) {
    await this.existingUser(userId);
    const pushers = (await this.storage.pushers.list(userId)).map(adminPusherJson);
    return { pushers, total: pushers.length };
  }

  private async setFlag(userId: string, flag: Flag, value: boolean): Promise<void> {
    if (!(await this.storage.moderation.setFlags(userId, { [flag]: value }))) throw userNotFound();
    // The flags ride on the cached token lookups: the next request reads them anew.
    this.deps.sessions.forgetUser(userId);
  }

  private async existingUser(userId: string): Promise<UserRecord> {
    checkLocalUserId(userId, this.serverName);
    const user = await this.storage.users.getUser(userId);
    if (!user) throw userNotFound();
    return user;
  }

  /** The spec's endpoints treat a deactivated user as not found. */
  private async activeUser(userId: string): Promise<UserRecord> {
    const user = await this.existingUser(userId);
    if (user.deactivated) throw userNotFound();
    return user;
  }
}

const userNotFound = () => errors.notFound('User not found');
