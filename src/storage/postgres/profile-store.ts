/**
 * Users' global profiles in PostgreSQL (columns as in SQLite, see
 * ../common/profile-rows.ts) and the queue of member-event propagations, one
 * generation per user: a change made while a propagation runs queues a newer
 * generation, which finishing the older one leaves queued.
 */
import type { Profile, ProfileStore } from '../storage.js';
import { type ProfileRow, fieldsToRow, toFields, toProfile } from '../common/profile-rows.js';
import type { PgDatabase, PgExecutor } from './database.js';

export class PgProfileStore implements ProfileStore {
  constructor(private readonly db: PgDatabase) {}

  async getProfile(userId: string): Promise<Profile | undefined> {
    const row = await this.selectRow(userId);
    return row && toProfile(row);
  }

  async setProfile(userId: string, profile: Profile): Promise<void> {
    await writeProfile(this.db, userId, profile);
  }

  async getFields(userId: string): Promise<Record<string, unknown> | undefined> {
    const row = await this.selectRow(userId);
    return row && toFields(row);
  }

  async setFields(
    userId: string,
    fields: Record<string, unknown>,
    propagate: boolean,
  ): Promise<void> {
    const row = fieldsToRow(fields);
    await this.db.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO profiles (user_id, displayname, avatar_url, fields_json) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id) DO UPDATE SET displayname = EXCLUDED.displayname,
           avatar_url = EXCLUDED.avatar_url, fields_json = EXCLUDED.fields_json`,
        [userId, row.displayname, row.avatar_url, row.fields_json],
      );
      if (!propagate) return;
      // One statement: concurrent changes each get their own generation.
      await tx.run(
        `INSERT INTO profile_propagations (user_id, generation) VALUES ($1, 1)
         ON CONFLICT (user_id) DO UPDATE SET generation = profile_propagations.generation + 1`,
        [userId],
      );
    });
  }

  async pendingPropagations(): Promise<{ userId: string; generation: number }[]> {
    return this.db.rows<{ userId: string; generation: number }>(
      `SELECT user_id AS "userId", generation FROM profile_propagations
       ORDER BY user_id COLLATE "C"`,
    );
  }

  async finishPropagation(userId: string, generation: number): Promise<void> {
    await this.db.run('DELETE FROM profile_propagations WHERE user_id = $1 AND generation = $2', [
      userId,
      generation,
    ]);
  }

  private selectRow(userId: string): Promise<ProfileRow | undefined> {
    return this.db.row<ProfileRow>(
      'SELECT displayname, avatar_url, fields_json FROM profiles WHERE user_id = $1',
      [userId],
    );
  }
}

/**
 * Sets the display name and avatar, keeping the other fields; on the pool or
 * inside another store's transaction (a new user's first profile).
 */
export async function writeProfile(
  db: PgExecutor,
  userId: string,
  profile: Profile,
): Promise<void> {
  await db.run(
    `INSERT INTO profiles (user_id, displayname, avatar_url) VALUES ($1, $2, $3)
     ON CONFLICT (user_id) DO UPDATE SET displayname = EXCLUDED.displayname,
       avatar_url = EXCLUDED.avatar_url`,
    [userId, profile.displayName ?? null, profile.avatarUrl ?? null],
  );
}
