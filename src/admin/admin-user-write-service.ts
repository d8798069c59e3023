/**
 * The Admin API's user writes: creating or changing an account, deactivating
 * (and erasing), password resets, a user's devices and joined rooms. Each rule
 * stays where the client API keeps it: passwords, registration and
 * deactivation in AccountService, devices (their tokens and keys) in
 * DeviceService, names and avatars in ProfileService. The bodies' rules are
 * user-write-rules.ts.
 */
import type { AccountService } from '../account/account-service.js';
import type { SessionService } from '../auth/sessions.js';
import type { DeviceService } from '../devices/device-service.js';
import { AVATAR_URL, DISPLAYNAME, valueFromBody } from '../profiles/profile-rules.js';
import type { ProfileService } from '../profiles/profile-service.js';
import { errors } from '../protocol/errors.js';
import type { MembershipReader } from '../storage/readers.js';
import type { UserStore } from '../storage/storage.js';
import { checkLocalUserId } from './admin-rules.js';
import type { AdminUserService } from './admin-user-service.js';
import type { AccountModerationService } from './account-moderation-service.js';
import { adminDeviceJson, type AdminDeviceJson, type UserChanges } from './user-write-rules.js';

const LOCAL_ONLY = 'This endpoint can only be used with local users';

/** The users (existence, reactivation) and the rooms a user joined. */
export interface AdminUserWriteServiceStorage {
  users: Pick<UserStore, 'getUser' | 'reactivate'>;
  rooms: MembershipReader;
}

/** The services whose rules the admin writes reuse. */
export interface AdminUserWriteDeps {
  accounts: Pick<AccountService, 'claimableUserId' | 'register' | 'changePassword' | 'deactivate'>;
  devices: Pick<DeviceService, 'list' | 'get' | 'rename' | 'delete'>;
  profiles: Pick<ProfileService, 'setField' | 'deleteField'>;
  /** Creates a device (POST .../devices): a session whose token nobody is given. */
  sessions: Pick<SessionService, 'issue'>;
  /** The user as GET v2/users/{userId} answers it, and the admin flag's rule. */
  admin: Pick<AdminUserService, 'user' | 'setAdmin'>;
  /** The lock and user type (admin/account-moderation-service.ts). */
  moderation: Pick<AccountModerationService, 'setFlagAsSynapse' | 'setUserType'>;
}

export class AdminUserWriteService {
  constructor(
    private readonly serverName: string,
    private readonly storage: AdminUserWriteServiceStorage,
    private readonly deps: AdminUserWriteDeps,
  ) {}

  /**
   * `PUT v2/users/{userId}`: creates the user (`created`) or changes what the
   * body names, in Synapse's order: password, display name, avatar, admin
   * flag, deactivation. What can be refused is checked before anything changes.
   */
  async putUser(actorId: string, userId: string, changes: UserChanges) {
    checkLocalUserId(userId, this.serverName, LOCAL_ONLY);
    const { accounts, profiles } = this.deps;
    // The profile rules first, so a bad name changes nothing else.
    if (changes.displayName !== undefined) {
      valueFromBody(DISPLAYNAME, { [DISPLAYNAME]: changes.displayName });
    }
    if (changes.avatarUrl !== undefined) {
      valueFromBody(AVATAR_URL, { [AVATAR_URL]: changes.avatarUrl });
    }
    const existing = await this.storage.users.getUser(userId);
    if (existing && userId === actorId && changes.admin === false && existing.isAdmin) {
      throw errors.unknown('You may not demote yourself.');
    }
    const reactivating = existing?.deactivated === true && changes.deactivated === false;
    // Weft always logs in with passwords: a reactivated account needs one, as in Synapse.
    if (reactivating && changes.password === undefined) {
      throw errors.missingParam('password');
    }

    if (!existing) {
      // Registration's rules for the localpart (lower case, not numeric, not `_…`).
      const claimed = await accounts.claimableUserId(userId.slice(1, userId.indexOf(':')));
      if (claimed !== userId) throw errors.invalidUsername('User IDs must be lower case');
      await accounts.register({
        userId,
        password: changes.password,
        isAdmin: changes.admin ?? false,
        inhibitLogin: true,
        ip: null,
      });
    } else if (changes.password !== undefined) {
      await accounts.changePassword(userId, changes.password, null, changes.logoutDevices);
    }
    if (changes.displayName !== undefined) {
      await profiles.setField(userId, userId, DISPLAYNAME, { [DISPLAYNAME]: changes.displayName });
    }
    if (changes.avatarUrl !== undefined) {
      await profiles.setField(userId, userId, AVATAR_URL, { [AVATAR_URL]: changes.avatarUrl });
    }
    if (existing && changes.admin !== undefined && changes.admin !== existing.isAdmin) {
      await this.deps.admin.setAdmin(actorId, userId, changes.admin);
    }
    if (changes.deactivated === true && !existing?.deactivated) await accounts.deactivate(userId);
    if (reactivating) await this.storage.users.reactivate(userId);
    await this.applyModeration(userId, changes);
    return { created: !existing, user: await this.deps.admin.user(userId) };
  }

  /** The lock and user type, after the rest (Synapse sets them last too). */
  private async applyModeration(userId: string, changes: UserChanges): Promise<void> {
    const { moderation } = this.deps;
    if (changes.userType !== undefined) await moderation.setUserType(userId, changes.userType);
    if (changes.locked !== undefined) {
      await moderation.setFlagAsSynapse(userId, 'locked', changes.locked);
    }
  }

  /**
   * `POST v1/deactivate/{userId}`: as the client API's deactivation (tokens,
   * devices and keys go, rooms are left). `erase` also clears the display name
   * and avatar first; Weft does not yet hide the user's past events from new
   * members (Synapse's erasure does).
   */
  async deactivate(userId: string, erase: boolean): Promise<void> {
    await this.existingUser(userId, 'Can only deactivate local users');
    if (erase) {
      await this.deps.profiles.deleteField(userId, userId, DISPLAYNAME);
      await this.deps.profiles.deleteField(userId, userId, AVATAR_URL);
    }
    await this.deps.accounts.deactivate(userId);
  }

  /** `POST v1/reset_password/{userId}`: the password rules of a password change. */
  async resetPassword(userId: string, password: string, logoutDevices: boolean): Promise<void> {
    await this.existingUser(userId, LOCAL_ONLY);
    await this.deps.accounts.changePassword(userId, password, null, logoutDevices);
  }

  async devices(userId: string): Promise<{ devices: AdminDeviceJson[]; total: number }> {
    await this.existingUser(userId);
    const listed = await this.deps.devices.list(userId, { userAgents: true });
    const devices = listed.map((d) => adminDeviceJson(userId, d));
    return { devices, total: devices.length };
  }

  async device(userId: string, deviceId: string): Promise<AdminDeviceJson> {
    await this.existingUser(userId);
    return adminDeviceJson(
      userId,
      await this.deps.devices.get(userId, deviceId, { userAgents: true }),
    );
  }

  /**
   * Creates the device unless it exists (then nothing changes: its tokens stay
   * valid). Weft's devices are made with a token: this one is never handed out.
   */
  async createDevice(userId: string, deviceId: string): Promise<void> {
    await this.existingUser(userId);
    if ((await this.deps.devices.list(userId)).some((d) => d.device_id === deviceId)) return;
    await this.deps.sessions.issue(userId, deviceId, null, null);
  }

  async renameDevice(userId: string, deviceId: string, displayName: string | null): Promise<void> {
    await this.existingUser(userId);
    await this.deps.devices.rename(userId, deviceId, displayName);
  }

  /** As the client API's DELETE /devices: tokens revoked, keys removed, others told. Unknown IDs are skipped. */
  async deleteDevices(userId: string, deviceIds: string[]): Promise<void> {
    await this.existingUser(userId);
    await this.deps.devices.delete(userId, deviceIds);
  }

  async joinedRooms(userId: string): Promise<{ joined_rooms: string[]; total: number }> {
    await this.existingUser(userId);
    const rooms = await this.storage.rooms.roomsWithMembership(userId, 'join');
    return { joined_rooms: rooms, total: rooms.length };
  }

  private async existingUser(userId: string, nonLocal?: string): Promise<void> {
    checkLocalUserId(userId, this.serverName, nonLocal);
    if (!(await this.storage.users.getUser(userId))) throw errors.notFound('User not found');
  }
}
