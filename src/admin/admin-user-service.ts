/**
 * Synapse's Admin API over Weft's users: who is a server admin (read from
 * storage at every call, never cached, so a demotion counts at once), the user
 * list, one user, the admin flag, whois. The rules are admin-rules.ts.
 */
import { readFileSync } from 'node:fs';
import type { DeviceService } from '../devices/device-service.js';
import { errors } from '../protocol/errors.js';
import type { ProfileReader } from '../storage/readers.js';
import type { UserListQuery, UserStore } from '../storage/storage.js';
import {
  adminUserJson,
  checkLocalUserId,
  type AdminUserJson,
  type LastConnection,
  type UserListJson,
  userListJson,
  whoisJson,
} from './admin-rules.js';

/** The users' store (reads, the list and the admin flag) and profiles' names and avatars. */
export interface AdminUserServiceStorage {
  users: Pick<UserStore, 'getUser' | 'listUsers' | 'setAdmin'>;
  profiles: ProfileReader;
}

export class AdminUserService {
  constructor(
    private readonly serverName: string,
    private readonly storage: AdminUserServiceStorage,
    /** Devices with their last seen IP and time (not yet written ones included). */
    private readonly devices: Pick<DeviceService, 'list'>,
  ) {}

  /** Whether the user is a server admin now: one read of the users table, every time. */
  async isServerAdmin(userId: string): Promise<boolean> {
    const user = await this.storage.users.getUser(userId);
    return user !== undefined && user.isAdmin && !user.deactivated;
  }

  async listUsers(query: UserListQuery): Promise<UserListJson> {
    return userListJson(query, await this.storage.users.listUsers(query));
  }

  /** `GET /_synapse/admin/v2/users/{userId}` (Weft has no 3PIDs or external IDs yet). */
  async user(
    userId: string,
  ): Promise<AdminUserJson & { threepids: never[]; external_ids: never[] }> {
    const user = await this.existingUser(userId);
    const profile = await this.storage.profiles.getProfile(userId);
    return {
      ...adminUserJson({
        userId,
        isGuest: user.isGuest,
        isAdmin: user.isAdmin,
        deactivated: user.deactivated,
        createdTs: user.createdTs,
        displayName: profile?.displayName ?? null,
        avatarUrl: profile?.avatarUrl ?? null,
        locked: user.locked,
        suspended: user.suspended,
        shadowBanned: user.shadowBanned,
        userType: user.userType,
      }),
      threepids: [],
      external_ids: [],
    };
  }

  async isAdmin(userId: string): Promise<boolean> {
    return (await this.existingUser(userId)).isAdmin;
  }

  /** Sets the admin flag; an admin cannot take their own away (as Synapse: nobody might be left to give it back). */
  async setAdmin(actorId: string, userId: string, isAdmin: boolean): Promise<void> {
    checkLocalUserId(userId, this.serverName);
    if (userId === actorId && !isAdmin) throw errors.unknown('You may not demote yourself.');
    if (!(await this.storage.users.setAdmin(userId, isAdmin))) throw userNotFound();
  }

  async whois(userId: string) {
    await this.existingUser(userId);
    const connections: LastConnection[] = [];
    for (const device of await this.devices.list(userId, { userAgents: true })) {
      if (device.last_seen_ip !== undefined && device.last_seen_ts !== undefined) {
        connections.push({
          ip: device.last_seen_ip,
          lastSeen: device.last_seen_ts,
          userAgent: device.last_seen_user_agent ?? null,
        });
      }
    }
    return whoisJson(userId, connections);
  }

  private async existingUser(userId: string) {
    checkLocalUserId(userId, this.serverName);
    const user = await this.storage.users.getUser(userId);
    if (!user) throw userNotFound();
    return user;
  }
}

const userNotFound = () => errors.notFound('User not found');

let version: string | undefined;

/** Weft's version, from package.json (one level above src/ and dist/). */
export function weftVersion(): string {
  version ??= (
    JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    }
  ).version;
  return version;
}
