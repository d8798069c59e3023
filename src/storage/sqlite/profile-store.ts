/** Users' global profiles (display name, avatar URL) in SQLite. */
import type { Profile, ProfileStore } from '../storage.js';
import type { SqliteDatabase } from './database.js';

interface ProfileRow {
  displayname: string | null;
  avatar_url: string | null;
}

const toProfile = (row: ProfileRow): Profile => ({
  ...(row.displayname === null ? {} : { displayName: row.displayname }),
  ...(row.avatar_url === null ? {} : { avatarUrl: row.avatar_url }),
});

export class SqliteProfileStore implements ProfileStore {
  private readonly select;
  private readonly upsert;

  constructor(db: SqliteDatabase) {
    this.select = db.prepare('SELECT displayname, avatar_url FROM profiles WHERE user_id = ?');
    this.upsert = db.prepare(
      `INSERT INTO profiles (user_id, displayname, avatar_url) VALUES (?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET displayname = excluded.displayname,
         avatar_url = excluded.avatar_url`,
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
}
