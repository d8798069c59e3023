/** The embedded SQLite backend. All SQL of Weft lives under storage/. */
import type {
  DeviceRecord,
  DeviceStore,
  LastSeen,
  LoginTokenStore,
  NewSession,
  NewUser,
  Storage,
  TokenOwner,
  TokenStore,
  UiaSessionRecord,
  UiaStore,
  ListedUser,
  UserListQuery,
  UserRecord,
  UserStore,
} from '../storage.js';
import {
  type DeviceRow,
  GUEST_COUNTER,
  LISTED_USER_COLUMNS,
  type ListedUserRow,
  type UiaSessionRow,
  type UserRow,
  toDevice,
  toListedUser,
  toUiaSession,
  toUser,
  uiaSessionValues,
  userListOrderBy,
} from '../common/account-rows.js';
import { type SqliteDatabase, openDatabase, writeTransaction } from './database.js';
import {
  TOKEN_OWNER_COLUMNS,
  type TokenOwnerRow,
  toTokenOwner,
} from '../common/account-moderation-rows.js';
import { otherTokenRevoker, SqliteAccountModerationStore } from './account-moderation-store.js';
import { SqliteForwardExtremityStore } from './forward-extremity-store.js';
import { SqliteAccountDataStore } from './account-data-store.js';
import { SqliteDirectoryStore } from './directory-store.js';
import { SqliteFilterStore } from './filter-store.js';
import { SqliteMediaStore } from './media-store.js';
import { SqliteProfileStore } from './profile-store.js';
import { SqlitePresenceStore } from './presence-store.js';
import { SqlitePushRuleStore } from './push-rule-store.js';
import { SqliteReceiptStore } from './receipt-store.js';
import { SqliteReportStore } from './report-store.js';
import { openRelationParents, SqliteRelationStore } from './relation-store.js';
import { SqliteWriter } from './writer.js';
import { openSqliteNotificationStore } from './notification-store.js';
import { PusherCleanup, SqlitePusherStore } from './pusher-store.js';
import { SqliteRoomStore } from './room-store.js';
import {
  DeviceKeyCleanup,
  DeviceListChanges,
  SqliteDeviceListStore,
  SqliteE2eeKeyStore,
} from './e2ee-store.js';
import { SqliteKeyBackupStore } from './key-backup-store.js';
import { SqliteToDeviceStore } from './to-device-store.js';
import { SqliteUserDirectoryStore } from './user-directory-store.js';
import { SqliteAdminJobStore } from './admin-job-store.js';
import { SqliteMutualRoomStore } from './mutual-room-store.js';
import { SqliteOpenIdTokenStore } from './openid-token-store.js';
import { SqliteSlidingSyncStore } from './sliding-sync-store.js';
import { SqliteAppServiceTransactionStore } from './appservice-store.js';
import { SqliteAppServiceRoomListStore } from './appservice-room-list-store.js';
import { SqliteAppServiceDeviceStore } from './appservice-device-store.js';
import { SqliteRegistrationTokenStore } from './registration-token-store.js';
import { SqliteMediaAdminStore } from './media-admin-store.js';
import { SqliteSearchStore } from './search-store.js';
import { SqliteServerKeyStore } from './server-key-store.js'; // federation keys
import { SqliteFederationSendingStore } from './federation-sending-store.js';

export interface SqliteStorageOptions {
  /**
   * Commit events and push evaluations in a worker thread on a second
   * connection (writer.ts): the server does; tools and unit tests need not.
   */
  writerThread?: boolean;
}

export function openSqliteStorage(file: string, options: SqliteStorageOptions = {}): Storage {
  const db = openDatabase(file);
  // After openDatabase: the schema is migrated before the writer opens its connection.
  const writer = options.writerThread ? new SqliteWriter(file) : undefined;
  const profiles = new SqliteProfileStore(db);
  const relationParents = openRelationParents(db);
  const notifications = openSqliteNotificationStore(db, writer);
  const selectOne = db.prepare('SELECT 1');
  return {
    rooms: new SqliteRoomStore(db, relationParents, writer),
    directory: new SqliteDirectoryStore(db),
    users: new SqliteUserStore(db, profiles),
    profiles,
    devices: new SqliteDeviceStore(db),
    tokens: new SqliteTokenStore(db),
    loginTokens: new SqliteLoginTokenStore(db),
    uia: new SqliteUiaStore(db),
    filters: new SqliteFilterStore(db),
    pushRules: new SqlitePushRuleStore(db),
    media: new SqliteMediaStore(db),
    e2eeKeys: new SqliteE2eeKeyStore(db),
    deviceLists: new SqliteDeviceListStore(db),
    toDevice: new SqliteToDeviceStore(db),
    keyBackup: new SqliteKeyBackupStore(db),
    accountData: new SqliteAccountDataStore(db),
    receipts: new SqliteReceiptStore(db),
    presence: new SqlitePresenceStore(db),
    userDirectory: new SqliteUserDirectoryStore(db),
    reports: new SqliteReportStore(db),
    relations: new SqliteRelationStore(db, relationParents),
    notifications,
    pushers: new SqlitePusherStore(db),
    moderation: new SqliteAccountModerationStore(db),
    registrationTokens: new SqliteRegistrationTokenStore(db),
    mediaAdmin: new SqliteMediaAdminStore(db),
    extremities: new SqliteForwardExtremityStore(db),
    adminJobs: new SqliteAdminJobStore(db),
    search: new SqliteSearchStore(db),
    mutualRooms: new SqliteMutualRoomStore(db),
    openIdTokens: new SqliteOpenIdTokenStore(db),
    appServiceTransactions: new SqliteAppServiceTransactionStore(db),
    appServiceRoomList: new SqliteAppServiceRoomListStore(db),
    appServiceDevices: new SqliteAppServiceDeviceStore(db),
    slidingSync: new SqliteSlidingSyncStore(db),
    serverKeys: new SqliteServerKeyStore(db), // federation keys
    federationSending: new SqliteFederationSendingStore(db),
    // The main connection (what most reads use); throws once it is closed.
    ping: async () => {
      selectOne.get();
    },
    close: async () => {
      await notifications.flush();
      await writer?.close();
      db.close();
    },
  };
}

/** Statements shared by several stores: sessions and device deletion. */
class SessionStatements {
  private readonly insertDevice;
  private readonly tokensOfDevice;
  private readonly deleteTokensOfDevice;
  private readonly insertToken;
  private readonly deleteDeviceRow;
  private readonly deviceKeys;
  private readonly pushers;

  constructor(db: SqliteDatabase) {
    this.insertDevice = db.prepare(
      `INSERT INTO devices (user_id, device_id, display_name, last_seen_ts, last_seen_ip, created_ts)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (user_id, device_id) DO UPDATE SET last_seen_ts = excluded.last_seen_ts,
         last_seen_ip = excluded.last_seen_ip`,
    );
    this.tokensOfDevice = db
      .prepare('SELECT token_hash FROM access_tokens WHERE user_id = ? AND device_id = ?')
      .pluck();
    this.deleteTokensOfDevice = db.prepare(
      'DELETE FROM access_tokens WHERE user_id = ? AND device_id = ?',
    );
    this.insertToken = db.prepare(
      'INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts) VALUES (?, ?, ?, ?)',
    );
    this.deleteDeviceRow = db.prepare('DELETE FROM devices WHERE user_id = ? AND device_id = ?');
    this.deviceKeys = new DeviceKeyCleanup(db);
    this.pushers = new PusherCleanup(db);
  }

  /** Must run inside a transaction. */
  createSession(s: NewSession): string[] {
    this.insertDevice.run(s.userId, s.deviceId, s.initialDisplayName, s.now, s.ip, s.now);
    const revoked = this.revokeDeviceTokens(s.userId, s.deviceId);
    this.insertToken.run(s.tokenHash, s.userId, s.deviceId, s.now);
    return revoked;
  }

  /** Must run inside a transaction. */
  deleteDevice(userId: string, deviceId: string): string[] {
    const revoked = this.revokeDeviceTokens(userId, deviceId);
    // Its keys, to-device queue and pushers go with it; others hear of it through device lists.
    if (this.deleteDeviceRow.run(userId, deviceId).changes > 0) {
      this.deviceKeys.forgetDevice(userId, deviceId);
      this.pushers.forgetDevice(userId, deviceId);
    }
    return revoked;
  }

  private revokeDeviceTokens(userId: string, deviceId: string): string[] {
    const hashes = this.tokensOfDevice.all(userId, deviceId) as string[];
    this.deleteTokensOfDevice.run(userId, deviceId);
    return hashes;
  }
}

class SqliteUserStore implements UserStore {
  private readonly sessions;
  private readonly insert;
  private readonly select;
  private readonly bumpCounter;
  private readonly updatePassword;
  private readonly updateGuest;
  private readonly markDeactivated;
  private readonly queueLeaves;
  private readonly selectPendingLeaves;
  private readonly clearLeaves;
  private readonly deviceIds;
  private readonly revokeOtherTokens;
  private readonly countListed;
  private readonly updateAdmin;
  private readonly markReactivated;
  /** The user list's page statement of each order (built at its first use). */
  private readonly listPages = new Map<string, ReturnType<SqliteDatabase['prepare']>>();

  constructor(
    private readonly db: SqliteDatabase,
    private readonly profiles: SqliteProfileStore,
  ) {
    this.sessions = new SessionStatements(db);
    this.insert = db.prepare(
      `INSERT INTO users (user_id, password_hash, is_guest, is_admin, created_ts)
       VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id) DO NOTHING`,
    );
    this.select = db.prepare('SELECT * FROM users WHERE user_id = ?');
    this.bumpCounter = db
      .prepare(
        `INSERT INTO counters (name, value) VALUES (?, 1)
         ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value`,
      )
      .pluck();
    this.updatePassword = db.prepare('UPDATE users SET password_hash = ? WHERE user_id = ?');
    this.updateGuest = db.prepare(
      'UPDATE users SET is_guest = 0, password_hash = ? WHERE user_id = ?',
    );
    this.markDeactivated = db.prepare('UPDATE users SET deactivated = 1 WHERE user_id = ?');
    this.queueLeaves = db.prepare(
      'INSERT INTO deactivation_leaves (user_id) VALUES (?) ON CONFLICT (user_id) DO NOTHING',
    );
    this.selectPendingLeaves = db
      .prepare('SELECT user_id FROM deactivation_leaves ORDER BY user_id')
      .pluck();
    this.clearLeaves = db.prepare('DELETE FROM deactivation_leaves WHERE user_id = ?');
    this.deviceIds = db.prepare('SELECT device_id FROM devices WHERE user_id = ?').pluck();
    this.revokeOtherTokens = otherTokenRevoker(db);
    this.countListed = db.prepare(`SELECT COUNT(*) ${USER_LIST_FROM}`).pluck();
    this.updateAdmin = db.prepare('UPDATE users SET is_admin = ? WHERE user_id = ?');
    this.markReactivated = db.prepare('UPDATE users SET deactivated = 0 WHERE user_id = ?');
  }

  async createUser(user: NewUser, session?: NewSession): Promise<boolean> {
    return writeTransaction(this.db, () => {
      const inserted = this.insert.run(
        user.userId,
        user.passwordHash,
        user.isGuest ? 1 : 0,
        user.isAdmin ? 1 : 0,
        user.now,
      );
      if (inserted.changes === 0) return false;
      // With the user, so no join can see the account without its profile.
      if (user.displayName !== undefined) {
        this.profiles.write(user.userId, { displayName: user.displayName });
      }
      if (session) this.sessions.createSession(session);
      return true;
    })();
  }

  async getUser(userId: string): Promise<UserRecord | undefined> {
    const row = this.select.get(userId) as UserRow | undefined;
    return row && toUser(row);
  }

  async nextGuestNumber(): Promise<number> {
    return this.bumpCounter.get(GUEST_COUNTER) as number;
  }

  async setPasswordHash(userId: string, passwordHash: string): Promise<void> {
    this.updatePassword.run(passwordHash, userId);
  }

  async upgradeGuest(userId: string, passwordHash: string | null): Promise<void> {
    this.updateGuest.run(passwordHash, userId);
  }

  async deactivate(userId: string): Promise<string[]> {
    return writeTransaction(this.db, () => {
      this.markDeactivated.run(userId);
      this.queueLeaves.run(userId);
      const devices = this.deviceIds.all(userId) as string[];
      const revoked = devices.flatMap((deviceId) => this.sessions.deleteDevice(userId, deviceId));
      // Puppet tokens (admin/account-moderation-service.ts) have no device row.
      return [...revoked, ...this.revokeOtherTokens(userId, null)];
    })();
  }

  async pendingDeactivationLeaves(): Promise<string[]> {
    return this.selectPendingLeaves.all() as string[];
  }

  async finishDeactivationLeaves(userId: string): Promise<void> {
    this.clearLeaves.run(userId);
  }

  async listUsers(query: UserListQuery): Promise<{ users: ListedUser[]; total: number }> {
    const params = userListParams(query);
    const order = userListOrderBy(query);
    let page = this.listPages.get(order);
    if (!page) {
      page = this.db.prepare(
        `SELECT ${LISTED_USER_COLUMNS} ${USER_LIST_FROM} ${order} LIMIT @limit OFFSET @from`,
      );
      this.listPages.set(order, page);
    }
    // One read transaction: the page and the total see the same rows.
    return this.db.transaction(() => ({
      users: (page.all({ ...params, limit: query.limit, from: query.from }) as ListedUserRow[]).map(
        toListedUser,
      ),
      total: this.countListed.get(params) as number,
    }))();
  }

  async setAdmin(userId: string, isAdmin: boolean): Promise<boolean> {
    return this.updateAdmin.run(isAdmin ? 1 : 0, userId).changes > 0;
  }

  async reactivate(userId: string): Promise<boolean> {
    return this.markReactivated.run(userId).changes > 0;
  }
}

/**
 * The users (with their profiles) a user list query matches; absent filters
 * are null parameters. Localparts and names are matched lower-cased (SQLite's
 * lower() folds ASCII only).
 */
const USER_LIST_FROM = `FROM users u LEFT JOIN profiles p ON p.user_id = u.user_id
  WHERE (@userId IS NULL OR instr(lower(u.user_id), @userId) > 0)
    AND (@name IS NULL
      OR instr(lower(substr(u.user_id, 2, instr(u.user_id, ':') - 2)), @name) > 0
      OR instr(lower(p.displayname), @name) > 0)
    AND (@guests = 1 OR u.is_guest = 0)
    AND (@deactivated IS NULL OR u.deactivated = @deactivated)
    AND (@admins IS NULL OR u.is_admin = @admins)`;

function userListParams(query: UserListQuery) {
  return {
    userId: query.userIdContains?.toLowerCase() ?? null,
    name: query.nameContains?.toLowerCase() ?? null,
    guests: query.guests ? 1 : 0,
    deactivated: query.deactivated === undefined ? null : query.deactivated ? 1 : 0,
    admins: query.admins === undefined ? null : query.admins ? 1 : 0,
  };
}

class SqliteDeviceStore implements DeviceStore {
  private readonly sessions;
  private readonly selectOne;
  private readonly selectAll;
  private readonly revokeOtherTokens;
  private readonly updateName;
  private readonly updateLastSeen;
  private readonly deviceListChanges;

  constructor(private readonly db: SqliteDatabase) {
    this.sessions = new SessionStatements(db);
    this.selectOne = db.prepare('SELECT * FROM devices WHERE user_id = ? AND device_id = ?');
    this.selectAll = db.prepare('SELECT * FROM devices WHERE user_id = ? ORDER BY device_id');
    this.revokeOtherTokens = otherTokenRevoker(db);
    // Only a new name: the same one again is no device list change.
    this.updateName = db.prepare(
      `UPDATE devices SET display_name = ? WHERE user_id = ? AND device_id = ?
       AND display_name IS NOT ?`,
    );
    this.deviceListChanges = new DeviceListChanges(db);
    this.updateLastSeen = db.prepare(
      `UPDATE devices SET last_seen_ts = ?, last_seen_ip = ?, last_seen_user_agent = ?
       WHERE user_id = ? AND device_id = ?`,
    );
  }

  async getDevice(userId: string, deviceId: string): Promise<DeviceRecord | undefined> {
    const row = this.selectOne.get(userId, deviceId) as DeviceRow | undefined;
    return row && toDevice(row);
  }

  async listDevices(userId: string): Promise<DeviceRecord[]> {
    return (this.selectAll.all(userId) as DeviceRow[]).map(toDevice);
  }

  async setDisplayName(userId: string, deviceId: string, name: string | null): Promise<boolean> {
    return writeTransaction(this.db, () => {
      if (this.updateName.run(name, userId, deviceId, name).changes > 0) {
        this.deviceListChanges.record(userId, deviceId);
        return true;
      }
      return this.selectOne.get(userId, deviceId) !== undefined;
    })();
  }

  async deleteDevices(userId: string, deviceIds: string[]): Promise<string[]> {
    return writeTransaction(this.db, () =>
      deviceIds.flatMap((deviceId) => this.sessions.deleteDevice(userId, deviceId)),
    )();
  }

  async deleteOtherDevices(userId: string, keepDeviceId: string | null): Promise<string[]> {
    return writeTransaction(this.db, () => [
      ...(this.selectAll.all(userId) as DeviceRow[])
        .filter((row) => row.device_id !== keepDeviceId)
        .flatMap((row) => this.sessions.deleteDevice(userId, row.device_id)),
      // Puppet tokens (admin/account-moderation-service.ts) have no device row.
      ...this.revokeOtherTokens(userId, keepDeviceId),
    ])();
  }

  async recordLastSeen(entries: LastSeen[]): Promise<void> {
    writeTransaction(this.db, () => {
      for (const e of entries) {
        this.updateLastSeen.run(e.ts, e.ip, e.userAgent, e.userId, e.deviceId);
      }
    })();
  }
}

class SqliteTokenStore implements TokenStore {
  private readonly sessions;
  private readonly select;

  constructor(private readonly db: SqliteDatabase) {
    this.sessions = new SessionStatements(db);
    this.select = db.prepare(
      `SELECT ${TOKEN_OWNER_COLUMNS}
       FROM access_tokens t JOIN users u ON u.user_id = t.user_id
       WHERE t.token_hash = ? AND u.deactivated = 0`,
    );
  }

  async createSession(session: NewSession): Promise<string[]> {
    return writeTransaction(this.db, () => this.sessions.createSession(session))();
  }

  async lookup(tokenHash: string): Promise<TokenOwner | undefined> {
    const row = this.select.get(tokenHash) as TokenOwnerRow | undefined;
    return row && toTokenOwner(row);
  }
}

class SqliteLoginTokenStore implements LoginTokenStore {
  private readonly insert;
  private readonly take;
  private readonly purge;

  constructor(db: SqliteDatabase) {
    this.insert = db.prepare(
      'INSERT INTO login_tokens (nonce, user_id, expires_ts) VALUES (?, ?, ?)',
    );
    this.take = db.prepare(
      'DELETE FROM login_tokens WHERE nonce = ? RETURNING user_id AS userId, expires_ts AS expiresTs',
    );
    this.purge = db.prepare('DELETE FROM login_tokens WHERE expires_ts < ?');
  }

  async add(nonce: string, userId: string, expiresTs: number): Promise<void> {
    this.insert.run(nonce, userId, expiresTs);
  }

  async consume(nonce: string, now: number): Promise<string | undefined> {
    this.purge.run(now);
    const row = this.take.get(nonce) as { userId: string; expiresTs: number } | undefined;
    return row && row.expiresTs >= now ? row.userId : undefined;
  }
}

class SqliteUiaStore implements UiaStore {
  private readonly insert;
  private readonly select;
  private readonly update;
  private readonly remove;
  private readonly purge;

  constructor(db: SqliteDatabase) {
    this.insert = db.prepare(
      `INSERT INTO uia_sessions (session_id, user_id, operation, flows, completed, expires_ts)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.select = db.prepare('SELECT * FROM uia_sessions WHERE session_id = ? AND expires_ts >= ?');
    this.update = db.prepare('UPDATE uia_sessions SET completed = ? WHERE session_id = ?');
    this.remove = db.prepare('DELETE FROM uia_sessions WHERE session_id = ?');
    this.purge = db.prepare('DELETE FROM uia_sessions WHERE expires_ts < ?');
  }

  async create(session: UiaSessionRecord): Promise<void> {
    this.insert.run(...uiaSessionValues(session));
  }

  async get(sessionId: string, now: number): Promise<UiaSessionRecord | undefined> {
    const row = this.select.get(sessionId, now) as UiaSessionRow | undefined;
    return row && toUiaSession(row);
  }

  async setCompleted(sessionId: string, completed: string[]): Promise<void> {
    this.update.run(JSON.stringify(completed), sessionId);
  }

  async delete(sessionId: string): Promise<void> {
    this.remove.run(sessionId);
  }

  async purgeExpired(now: number): Promise<void> {
    this.purge.run(now);
  }
}
