/** Accounts: registration (users, guests, guest upgrades), password changes, deactivation. */
import type { Config } from '../config/config.js';
import type { DeviceStore, UserStore } from '../storage/storage.js';
import { errors } from '../protocol/errors.js';
import { checkPasswordPolicy, hashPassword } from '../auth/passwords.js';
import type { IssuedSession, SessionService } from '../auth/sessions.js';
import { localpartForUsername, userIdFor } from '../auth/user-ids.js';

export interface NewAccount {
  /** Already checked with `claimableUserId`; undefined → a generated one. */
  userId?: string;
  password?: string;
  isAdmin?: boolean;
  /** The profile's display name to start with (else the localpart). */
  displayName?: string;
  deviceId?: string;
  initialDeviceDisplayName?: string;
  inhibitLogin?: boolean;
  ip: string | null;
}

export interface Registered {
  userId: string;
  session?: IssuedSession;
}

/** The users, and the other devices a password change may log out. */
export interface AccountServiceStorage {
  users: UserStore;
  devices: Pick<DeviceStore, 'deleteOtherDevices'>;
}

export class AccountService {
  constructor(
    private readonly config: Config,
    private readonly storage: AccountServiceStorage,
    private readonly sessions: SessionService,
    /** Told after devices were deleted (their keys with them), so others hear of it. */
    private readonly devicesDeleted: (userId: string) => Promise<void> = async () => {},
    /** Told once a deactivation committed: the user's rooms are to be left (DeactivationLeaves). */
    private readonly deactivated: (userId: string) => void = () => {},
  ) {}

  /** The user ID a username maps to, if it is valid and free (M_INVALID_USERNAME / M_USER_IN_USE). */
  async claimableUserId(username: string): Promise<string> {
    const userId = userIdFor(
      localpartForUsername(username, this.config.server_name),
      this.config.server_name,
    );
    if (await this.storage.users.getUser(userId)) throw errors.userInUse();
    return userId;
  }

  async register(account: NewAccount): Promise<Registered> {
    checkPassword(account.password);
    const passwordHash =
      account.password === undefined ? null : await hashPassword(account.password);
    const userId = account.userId ?? (await this.generatedUserId());
    const now = Date.now();
    const session = account.inhibitLogin
      ? undefined
      : this.sessions.prepare(
          userId,
          account.deviceId,
          account.initialDeviceDisplayName ?? null,
          account.ip,
          now,
        );
    const created = await this.storage.users.createUser(
      {
        userId,
        passwordHash,
        isGuest: false,
        isAdmin: account.isAdmin ?? false,
        now,
        // As Synapse does: the display name starts as the localpart, chosen or generated.
        displayName: account.displayName ?? localpartOf(userId),
      },
      session?.record,
    );
    // Taken between the check before UIA and now.
    if (!created) throw errors.userInUse();
    return { userId, session: session?.issued };
  }

  async registerGuest(
    initialDeviceDisplayName: string | null,
    ip: string | null,
  ): Promise<Registered> {
    const userId = await this.generatedUserId();
    const now = Date.now();
    // Guests never choose their device ID (guest access module).
    const session = this.sessions.prepare(userId, undefined, initialDeviceDisplayName, ip, now);
    const created = await this.storage.users.createUser(
      {
        userId,
        passwordHash: null,
        isGuest: true,
        isAdmin: false,
        now,
        // Synapse gives guests their generated (numeric) localpart as display name too.
        displayName: localpartOf(userId),
      },
      session.record,
    );
    if (!created) throw errors.userInUse();
    return { userId, session: session.issued };
  }

  /**
   * A guest becomes a full account with the same user ID (guest access module:
   * the client must give the guest's own localpart as `username`).
   */
  checkGuestUpgrade(guestUserId: string, username: string | undefined): void {
    if (username === undefined) throw errors.missingParam('username');
    if (username.toLowerCase() !== localpartOf(guestUserId)) {
      throw errors.invalidUsername('A guest upgrade must keep the guest user ID');
    }
  }

  /** The guest's profile is kept, as in Synapse (a guest already has one). */
  async upgradeGuest(guestUserId: string, password: string | undefined): Promise<void> {
    checkPassword(password);
    const passwordHash = password === undefined ? null : await hashPassword(password);
    await this.storage.users.upgradeGuest(guestUserId, passwordHash);
    this.sessions.forgetUser(guestUserId);
  }

  /** Sets a new password; unless told otherwise, every other device of the user is logged out. */
  async changePassword(
    userId: string,
    newPassword: string,
    keepDeviceId: string | null,
    logoutDevices: boolean,
  ): Promise<void> {
    checkPassword(newPassword);
    await this.storage.users.setPasswordHash(userId, await hashPassword(newPassword));
    if (logoutDevices) {
      this.sessions.forget(await this.storage.devices.deleteOtherDevices(userId, keepDeviceId));
      await this.devicesDeleted(userId);
    }
  }

  /**
   * Tokens and devices go at once; the rooms are left in the background (queued
   * with the deactivation, so a crash does not stop it), as Synapse does.
   */
  async deactivate(userId: string): Promise<void> {
    this.sessions.forget(await this.storage.users.deactivate(userId));
    this.deactivated(userId);
    await this.devicesDeleted(userId);
  }

  private async generatedUserId(): Promise<string> {
    // Numeric localparts are never accepted from clients, so these never clash.
    for (;;) {
      const userId = userIdFor(
        String(await this.storage.users.nextGuestNumber()),
        this.config.server_name,
      );
      if (!(await this.storage.users.getUser(userId))) return userId;
    }
  }
}

function localpartOf(userId: string): string {
  return userId.slice(1, userId.indexOf(':'));
}

function checkPassword(password: string | undefined): void {
  if (password !== undefined) checkPasswordPolicy(password);
}
