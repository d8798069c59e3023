/**
 * Users, their devices and access tokens, login tokens and UIA sessions in
 * PostgreSQL, as in SQLite (sqlite-storage.ts there). What must be atomic is
 * one transaction: a user with its first session, a session with the
 * revocation of the device's earlier tokens, a device deletion with
 * everything that goes with the device.
 */
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
import { revokeOtherTokens } from './account-moderation-store.js';
import {
  TOKEN_OWNER_COLUMNS,
  type TokenOwnerRow,
  toTokenOwner,
} from '../common/account-moderation-rows.js';
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
import type { StreamPositions } from '../common/stream-positions.js';
import { pairKey } from '../../util/pair-key.js';
import type { PgDatabase, PgExecutor } from './database.js';
import {
  forgetDeviceAfterCommit,
  forgetDeviceInTransaction,
  recordDeviceListChange,
} from './e2ee-store.js';
import { writeProfile } from './profile-store.js';
import { forgetDevicePushers } from './pusher-store.js';

const DEVICE_COLUMNS =
  'user_id, device_id, display_name, last_seen_ts, last_seen_ip, last_seen_user_agent';

/** Creates or keeps the device and gives it the session's token; returns the device's earlier tokens. */
async function createSessionIn(tx: PgExecutor, s: NewSession): Promise<string[]> {
  // The upsert locks the device row: sessions and deletions of one device take turns.
  await tx.run(
    `INSERT INTO devices (user_id, device_id, display_name, last_seen_ts, last_seen_ip, created_ts)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (user_id, device_id) DO UPDATE SET last_seen_ts = EXCLUDED.last_seen_ts,
       last_seen_ip = EXCLUDED.last_seen_ip`,
    [s.userId, s.deviceId, s.initialDisplayName, s.now, s.ip, s.now],
  );
  const revoked = await revokeDeviceTokens(tx, s.userId, s.deviceId);
  await tx.run(
    'INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts) VALUES ($1, $2, $3, $4)',
    [s.tokenHash, s.userId, s.deviceId, s.now],
  );
  return revoked;
}

async function revokeDeviceTokens(
  tx: PgExecutor,
  userId: string,
  deviceId: string,
): Promise<string[]> {
  const rows = await tx.rows<{ token_hash: string }>(
    'DELETE FROM access_tokens WHERE user_id = $1 AND device_id = $2 RETURNING token_hash',
    [userId, deviceId],
  );
  return rows.map((row) => row.token_hash);
}

/** Which of a user's devices a deletion takes: the named ones, or all but one (null: all). */
type DeviceChoice = { deviceIds: string[] } | { allBut: string | null };

function choiceCondition(choice: DeviceChoice): { sql: string; param: unknown } {
  return 'deviceIds' in choice
    ? { sql: 'device_id = ANY($2::text[])', param: choice.deviceIds }
    : { sql: 'device_id IS DISTINCT FROM $2::text', param: choice.allBut };
}

/** The transaction found more devices than positions were taken for (one was added meanwhile). */
class TooFewPositions extends Error {
  constructor(readonly needed: number) {
    super(`device deletion needs ${needed} device list positions`);
  }
}

/**
 * Deletes devices with their tokens, keys, to-device messages and pushers,
 * recording a device list change per device (positions of the deviceLists
 * stream, taken before the transaction), as SQLite's device deletion does.
 */
class DeviceDeletion {
  constructor(
    private readonly db: PgDatabase,
    private readonly deviceLists: StreamPositions,
  ) {}

  /**
   * Runs `before` and the deletion in one transaction; resolves once its
   * device list changes are readable. Returns the revoked token hashes.
   */
  async delete(
    userId: string,
    choice: DeviceChoice,
    before?: (tx: PgExecutor) => Promise<void>,
  ): Promise<string[]> {
    // Every device a try deleted, committed or not: the E2EE store then forgets what it cached of them.
    const touched = new Set<string>();
    try {
      return await this.deleteWithEnoughPositions(userId, choice, before, touched);
    } finally {
      for (const deviceId of touched) forgetDeviceAfterCommit(this.db, userId, deviceId);
    }
  }

  /** Takes a position per device found; tries again with more when a device was added meanwhile. */
  private async deleteWithEnoughPositions(
    userId: string,
    choice: DeviceChoice,
    before: ((tx: PgExecutor) => Promise<void>) | undefined,
    touched: Set<string>,
  ): Promise<string[]> {
    let expected = await this.countDevices(userId, choice);
    for (;;) {
      try {
        return await this.withPositions(expected, (positions) =>
          this.db.transaction(async (tx) => {
            await before?.(tx);
            return this.deleteLocked(tx, userId, choice, positions, touched);
          }),
        );
      } catch (err) {
        if (!(err instanceof TooFewPositions)) throw err;
        expected = err.needed;
      }
    }
  }

  private async countDevices(userId: string, choice: DeviceChoice): Promise<number> {
    const condition = choiceCondition(choice);
    const row = await this.db.row<{ devices: number }>(
      `SELECT COUNT(*) AS devices FROM devices WHERE user_id = $1 AND ${condition.sql}`,
      [userId, condition.param],
    );
    return row?.devices ?? 0;
  }

  /** A stream run takes at least one position; with no device to delete there is no change to record. */
  private withPositions<T>(count: number, write: (positions: number[]) => Promise<T>): Promise<T> {
    return count === 0 ? write([]) : this.deviceLists.run(count, write);
  }

  private async deleteLocked(
    tx: PgExecutor,
    userId: string,
    choice: DeviceChoice,
    positions: number[],
    touched: Set<string>,
  ): Promise<string[]> {
    const condition = choiceCondition(choice);
    // Locked in one order by every deletion, so two deletions cannot deadlock on their devices.
    const locked = await tx.rows<{ device_id: string }>(
      `SELECT device_id FROM devices WHERE user_id = $1 AND ${condition.sql}
       ORDER BY device_id COLLATE "C" FOR UPDATE`,
      [userId, condition.param],
    );
    if (locked.length > positions.length) throw new TooFewPositions(locked.length);
    const existing = new Set(locked.map((row) => row.device_id));
    // Named devices in the order asked (their tokens go even without a device row), as SQLite.
    const order = 'deviceIds' in choice ? choice.deviceIds : [...existing];
    const revoked: string[] = [];
    let next = 0;
    for (const deviceId of order) {
      revoked.push(...(await revokeDeviceTokens(tx, userId, deviceId)));
      if (!existing.delete(deviceId)) continue;
      await tx.run('DELETE FROM devices WHERE user_id = $1 AND device_id = $2', [userId, deviceId]);
      touched.add(deviceId);
      // Its keys, to-device queue and pushers go with it; others hear of it through device lists.
      await forgetDeviceInTransaction(tx, userId, deviceId, positions[next++]!);
      await forgetDevicePushers(tx, userId, deviceId);
    }
    // Puppet tokens (admin/account-moderation-service.ts) have no device row: they go with all the others.
    if ('allBut' in choice) revoked.push(...(await revokeOtherTokens(tx, userId, choice.allBut)));
    return revoked;
  }
}

export class PgUserStore implements UserStore {
  constructor(
    private readonly db: PgDatabase,
    private readonly deletion: DeviceDeletion,
  ) {}

  async createUser(user: NewUser, session?: NewSession): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      // A concurrent creation of the same ID waits here for this one, then finds it taken.
      const inserted = await tx.run(
        `INSERT INTO users (user_id, password_hash, is_guest, is_admin, created_ts)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id) DO NOTHING`,
        [user.userId, user.passwordHash, user.isGuest ? 1 : 0, user.isAdmin ? 1 : 0, user.now],
      );
      if (inserted === 0) return false;
      // With the user, so no join can see the account without its profile.
      if (user.displayName !== undefined) {
        await writeProfile(tx, user.userId, { displayName: user.displayName });
      }
      if (session) await createSessionIn(tx, session);
      return true;
    });
  }

  async getUser(userId: string): Promise<UserRecord | undefined> {
    const row = await this.db.row<UserRow>(
      `SELECT user_id, password_hash, is_guest, is_admin, deactivated, created_ts, locked,
         suspended, shadow_banned, user_type
       FROM users WHERE user_id = $1`,
      [userId],
    );
    return row && toUser(row);
  }

  async nextGuestNumber(): Promise<number> {
    // One statement: the row lock makes concurrent calls count one after the other.
    const row = await this.db.row<{ value: number }>(
      `INSERT INTO counters (name, value) VALUES ($1, 1)
       ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value`,
      [GUEST_COUNTER],
    );
    return row!.value;
  }

  async setPasswordHash(userId: string, passwordHash: string): Promise<void> {
    await this.db.run('UPDATE users SET password_hash = $1 WHERE user_id = $2', [
      passwordHash,
      userId,
    ]);
  }

  async upgradeGuest(userId: string, passwordHash: string | null): Promise<void> {
    await this.db.run('UPDATE users SET is_guest = 0, password_hash = $1 WHERE user_id = $2', [
      passwordHash,
      userId,
    ]);
  }

  async deactivate(userId: string): Promise<string[]> {
    return this.deletion.delete(userId, { allBut: null }, async (tx) => {
      await tx.run('UPDATE users SET deactivated = 1 WHERE user_id = $1', [userId]);
      await tx.run(
        'INSERT INTO deactivation_leaves (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING',
        [userId],
      );
    });
  }

  async pendingDeactivationLeaves(): Promise<string[]> {
    const rows = await this.db.rows<{ user_id: string }>(
      'SELECT user_id FROM deactivation_leaves ORDER BY user_id COLLATE "C"',
    );
    return rows.map((row) => row.user_id);
  }

  async finishDeactivationLeaves(userId: string): Promise<void> {
    await this.db.run('DELETE FROM deactivation_leaves WHERE user_id = $1', [userId]);
  }

  async listUsers(query: UserListQuery): Promise<{ users: ListedUser[]; total: number }> {
    const params = [
      query.userIdContains?.toLowerCase() ?? null,
      query.nameContains?.toLowerCase() ?? null,
      query.guests,
      query.deactivated === undefined ? null : query.deactivated ? 1 : 0,
      query.admins === undefined ? null : query.admins ? 1 : 0,
    ];
    // One text per order (14 at most), so each is a named prepared statement.
    const order = userListOrderBy(query, ' COLLATE "C"');
    // One snapshot: the page and the total see the same rows.
    return this.db.transaction(async (tx) => {
      await tx.run('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      const rows = await tx.rows<ListedUserRow>(
        `SELECT ${LISTED_USER_COLUMNS} ${USER_LIST_FROM} ${order} LIMIT $6 OFFSET $7`,
        [...params, query.limit, query.from],
      );
      const count = await tx.row<{ total: number }>(
        `SELECT COUNT(*) AS total ${USER_LIST_FROM}`,
        params,
      );
      return { users: rows.map(toListedUser), total: count?.total ?? 0 };
    });
  }

  async setAdmin(userId: string, isAdmin: boolean): Promise<boolean> {
    const changed = await this.db.run('UPDATE users SET is_admin = $1 WHERE user_id = $2', [
      isAdmin ? 1 : 0,
      userId,
    ]);
    return changed > 0;
  }

  async reactivate(userId: string): Promise<boolean> {
    return (await this.db.run('UPDATE users SET deactivated = 0 WHERE user_id = $1', [userId])) > 0;
  }
}

/** The users (with their profiles) a user list query matches, as in SQLite; absent filters are nulls. */
const USER_LIST_FROM = `FROM users u LEFT JOIN profiles p ON p.user_id = u.user_id
  WHERE ($1::text IS NULL OR strpos(lower(u.user_id), $1::text) > 0)
    AND ($2::text IS NULL
      OR strpos(lower(split_part(substr(u.user_id, 2), ':', 1)), $2::text) > 0
      OR strpos(lower(p.displayname), $2::text) > 0)
    AND ($3::boolean OR u.is_guest = 0)
    AND ($4::bigint IS NULL OR u.deactivated = $4::bigint)
    AND ($5::bigint IS NULL OR u.is_admin = $5::bigint)`;

export class PgDeviceStore implements DeviceStore {
  constructor(
    private readonly db: PgDatabase,
    private readonly deletion: DeviceDeletion,
    private readonly deviceLists: StreamPositions,
  ) {}

  async getDevice(userId: string, deviceId: string): Promise<DeviceRecord | undefined> {
    const row = await this.db.row<DeviceRow>(
      `SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = $1 AND device_id = $2`,
      [userId, deviceId],
    );
    return row && toDevice(row);
  }

  async listDevices(userId: string): Promise<DeviceRecord[]> {
    const rows = await this.db.rows<DeviceRow>(
      `SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = $1 ORDER BY device_id COLLATE "C"`,
      [userId],
    );
    return rows.map(toDevice);
  }

  async setDisplayName(userId: string, deviceId: string, name: string | null): Promise<boolean> {
    const device = await this.getDevice(userId, deviceId);
    // Unknown, or the same name again (no change): no position taken (each would be a gap).
    if (!device || device.displayName === name) return device !== undefined;
    return this.deviceLists.run(1, ([position]) =>
      this.db.transaction(async (tx) => {
        const changed = await tx.run(
          `UPDATE devices SET display_name = $1 WHERE user_id = $2 AND device_id = $3
           AND display_name IS DISTINCT FROM $1`,
          [name, userId, deviceId],
        );
        if (changed > 0) {
          await recordDeviceListChange(tx, userId, deviceId, position!);
          return true;
        }
        // Deleted, or given this name, meanwhile.
        const row = await tx.row('SELECT 1 FROM devices WHERE user_id = $1 AND device_id = $2', [
          userId,
          deviceId,
        ]);
        return row !== undefined;
      }),
    );
  }

  async deleteDevices(userId: string, deviceIds: string[]): Promise<string[]> {
    return this.deletion.delete(userId, { deviceIds });
  }

  async deleteOtherDevices(userId: string, keepDeviceId: string | null): Promise<string[]> {
    return this.deletion.delete(userId, { allBut: keepDeviceId });
  }

  async recordLastSeen(entries: LastSeen[]): Promise<void> {
    // One UPDATE per device: the last entry of a device wins, as when SQLite applies them in order.
    const latest = new Map(entries.map((e) => [pairKey(e.userId, e.deviceId), e]));
    if (latest.size === 0) return;
    const rows = [...latest.values()];
    // In a transaction so that a deadlock with another writer of these rows is run again.
    await this.db.transaction((tx) =>
      tx.run(
        `UPDATE devices
         SET last_seen_ts = seen.ts, last_seen_ip = seen.ip, last_seen_user_agent = seen.agent
         FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[])
           AS seen(user_id, device_id, ts, ip, agent)
         WHERE devices.user_id = seen.user_id AND devices.device_id = seen.device_id`,
        [
          rows.map((e) => e.userId),
          rows.map((e) => e.deviceId),
          rows.map((e) => e.ts),
          rows.map((e) => e.ip),
          rows.map((e) => e.userAgent),
        ],
      ),
    );
  }
}

export class PgTokenStore implements TokenStore {
  constructor(private readonly db: PgDatabase) {}

  async createSession(session: NewSession): Promise<string[]> {
    return this.db.transaction((tx) => createSessionIn(tx, session));
  }

  /** On every request's path (SessionService caches it above): one primary key lookup and join. */
  async lookup(tokenHash: string): Promise<TokenOwner | undefined> {
    const row = await this.db.row<TokenOwnerRow>(
      `SELECT ${TOKEN_OWNER_COLUMNS}
       FROM access_tokens t JOIN users u ON u.user_id = t.user_id
       WHERE t.token_hash = $1 AND u.deactivated = 0`,
      [tokenHash],
    );
    return row && toTokenOwner(row);
  }
}

export class PgLoginTokenStore implements LoginTokenStore {
  constructor(private readonly db: PgExecutor) {}

  async add(nonce: string, userId: string, expiresTs: number): Promise<void> {
    await this.db.run('INSERT INTO login_tokens (nonce, user_id, expires_ts) VALUES ($1, $2, $3)', [
      nonce,
      userId,
      expiresTs,
    ]);
  }

  async consume(nonce: string, now: number): Promise<string | undefined> {
    // Purges the expired tokens and takes this one in one statement (the two touch
    // different rows); a concurrent consume of the nonce waits, then finds it gone.
    const row = await this.db.row<{ user_id: string }>(
      `WITH purged AS (DELETE FROM login_tokens WHERE expires_ts < $2)
       DELETE FROM login_tokens WHERE nonce = $1 AND expires_ts >= $2 RETURNING user_id`,
      [nonce, now],
    );
    return row?.user_id;
  }
}

export class PgUiaStore implements UiaStore {
  constructor(private readonly db: PgExecutor) {}

  async create(session: UiaSessionRecord): Promise<void> {
    await this.db.run(
      `INSERT INTO uia_sessions (session_id, user_id, operation, flows, completed, expires_ts)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      uiaSessionValues(session),
    );
  }

  async get(sessionId: string, now: number): Promise<UiaSessionRecord | undefined> {
    const row = await this.db.row<UiaSessionRow>(
      `SELECT session_id, user_id, operation, flows, completed, expires_ts FROM uia_sessions
       WHERE session_id = $1 AND expires_ts >= $2`,
      [sessionId, now],
    );
    return row && toUiaSession(row);
  }

  async setCompleted(sessionId: string, completed: string[]): Promise<void> {
    await this.db.run('UPDATE uia_sessions SET completed = $1 WHERE session_id = $2', [
      JSON.stringify(completed),
      sessionId,
    ]);
  }

  async delete(sessionId: string): Promise<void> {
    await this.db.run('DELETE FROM uia_sessions WHERE session_id = $1', [sessionId]);
  }

  async purgeExpired(now: number): Promise<void> {
    await this.db.run('DELETE FROM uia_sessions WHERE expires_ts < $1', [now]);
  }
}

/** The stores of this file, sharing one device deletion. */
export function openUserStores(
  db: PgDatabase,
  deviceLists: StreamPositions,
): Pick<Storage, 'users' | 'devices' | 'tokens' | 'loginTokens' | 'uia'> {
  const deletion = new DeviceDeletion(db, deviceLists);
  return {
    users: new PgUserStore(db, deletion),
    devices: new PgDeviceStore(db, deletion, deviceLists),
    tokens: new PgTokenStore(db),
    loginTokens: new PgLoginTokenStore(db),
    uia: new PgUiaStore(db),
  };
}
