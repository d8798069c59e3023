/**
 * Users' global profiles in SQLite: display name and avatar URL in their own
 * columns (member events and the user directory read them), every other field
 * (m.tz, custom keys) as JSON; and the queue of member-event propagations.
 */
import type { Profile, ProfileStore } from '../storage.js';
import { type ProfileRow, fieldsToRow, toFields, toProfile } from '../common/profile-rows.js';
import { type SqliteDatabase, writeTransaction } from './database.js';

export class SqliteProfileStore implements ProfileStore {
  private readonly select;
  private readonly upsert;
  private readonly upsertFields;
  private readonly queuePropagation;
  private readonly selectPending;
  private readonly clearPropagation;
  private readonly replaceFields;

  constructor(db: SqliteDatabase) {
    this.select = db.prepare(
      'SELECT displayname, avatar_url, fields_json FROM profiles WHERE user_id = ?',
    );
    this.upsert = db.prepare(
      `INSERT INTO profiles (user_id, displayname, avatar_url) VALUES (?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET displayname = excluded.displayname,
         avatar_url = excluded.avatar_url`,
    );
    this.upsertFields = db.prepare(
      `INSERT INTO profiles (user_id, displayname, avatar_url, fields_json) VALUES (?, ?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET displayname = excluded.displayname,
         avatar_url = excluded.avatar_url, fields_json = excluded.fields_json`,
    );
    this.queuePropagation = db.prepare(
      `INSERT INTO profile_propagations (user_id, generation) VALUES (?, 1)
       ON CONFLICT (user_id) DO UPDATE SET generation = generation + 1`,
    );
    this.selectPending = db.prepare(
      'SELECT user_id AS userId, generation FROM profile_propagations ORDER BY user_id',
    );
    this.clearPropagation = db.prepare(
      'DELETE FROM profile_propagations WHERE user_id = ? AND generation = ?',
    );
    this.replaceFields = writeTransaction(
      db,
      (userId: string, fields: Record<string, unknown>, propagate: boolean) => {
        const row = fieldsToRow(fields);
        this.upsertFields.run(userId, row.displayname, row.avatar_url, row.fields_json);
        if (propagate) this.queuePropagation.run(userId);
      },
    );
  }

  async getProfile(userId: string): Promise<Profile | undefined> {
    const row = this.select.get(userId) as ProfileRow | undefined;
    return row && toProfile(row);
  }

  async setProfile(userId: string, profile: Profile): Promise<void> {
    this.write(userId, profile);
  }

  /** Synchronous, so that other stores can call it inside their transactions. */
  write(userId: string, profile: Profile): void {
    this.upsert.run(userId, profile.displayName ?? null, profile.avatarUrl ?? null);
  }

  async getFields(userId: string): Promise<Record<string, unknown> | undefined> {
    const row = this.select.get(userId) as ProfileRow | undefined;
    return row && toFields(row);
  }

  async setFields(
    userId: string,
    fields: Record<string, unknown>,
    propagate: boolean,
  ): Promise<void> {
    this.replaceFields(userId, fields, propagate);
  }

  async pendingPropagations(): Promise<{ userId: string; generation: number }[]> {
    return this.selectPending.all() as { userId: string; generation: number }[];
  }

  async finishPropagation(userId: string, generation: number): Promise<void> {
    this.clearPropagation.run(userId, generation);
  }
}
