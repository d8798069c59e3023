/**
 * Transaction-scoped advisory locks on a string key, for writes that must
 * first check rows that may not exist yet (no row to lock FOR UPDATE): a
 * user's filters, the users of a pushkey. PostgreSQL's two-integer form keeps
 * these apart from single-key locks (the migration lock); a hash collision
 * only makes two unrelated writes wait for each other.
 */
import type { PgExecutor } from './database.js';

/** What a lock guards; each its own number, so equal keys of different scopes do not collide. */
export const LockScope = {
  /** A user's filters: the same text gets one ID, different texts distinct IDs. */
  userFilters: 0x77656601,
  /** An (app_id, pushkey): at most one user's pushers after a put without append. */
  pushkey: 0x77656602,
} as const;

/** Held until the transaction ends; must run inside one. */
export async function lockKey(
  tx: PgExecutor,
  scope: (typeof LockScope)[keyof typeof LockScope],
  key: string,
): Promise<void> {
  await tx.run('SELECT pg_advisory_xact_lock($1::int, hashtext($2))', [scope, key]);
}
