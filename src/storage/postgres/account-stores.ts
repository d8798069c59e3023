/**
 * The PostgreSQL stores of accounts: users and their sessions, UIA, profiles,
 * filters, push rules, media, content reports and pushers.
 */
import type { Storage } from '../storage.js';
import type { PgDatabase } from './database.js';
import type { PgStreams } from './streams.js';
import { openUserStores } from './user-stores.js';
import { PgProfileStore } from './profile-store.js';
import { PgFilterStore } from './filter-store.js';
import { PgPushRuleStore } from './push-rule-store.js';
import { PgMediaStore } from './media-store.js';
import { PgReportStore } from './report-store.js';
import { PgPusherStore } from './pusher-store.js';

export async function openAccountStores(
  db: PgDatabase,
  streams: PgStreams,
): Promise<
  Pick<
    Storage,
    | 'users'
    | 'profiles'
    | 'devices'
    | 'tokens'
    | 'loginTokens'
    | 'uia'
    | 'filters'
    | 'pushRules'
    | 'media'
    | 'reports'
    | 'pushers'
  >
> {
  return {
    ...openUserStores(db, streams.deviceLists),
    profiles: new PgProfileStore(db),
    filters: new PgFilterStore(db),
    pushRules: new PgPushRuleStore(db),
    media: new PgMediaStore(db),
    reports: new PgReportStore(db),
    pushers: new PgPusherStore(db),
  };
}
