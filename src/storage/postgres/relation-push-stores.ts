/**
 * The PostgreSQL stores of the relation index and push notifications. The
 * relation index's writer goes to the room store, which runs it inside its
 * events transaction and tells it of each commit (relation-index.ts).
 */
import type { NotificationStore, RelationStore } from '../storage.js';
import { RelationParents } from '../common/relation-parents.js';
import type { PgDatabase } from './database.js';
import { openPgNotificationStore } from './notification-store.js';
import type { PgRelationIndex } from './relation-index.js';
import { PgRelationIndexWriter, PgRelationStore } from './relation-store.js';
import type { PgStreams } from './streams.js';

export interface RelationPushStores {
  relations: RelationStore;
  notifications: NotificationStore;
  relationIndex: PgRelationIndex;
  /** Writes the push evaluations still behind (before the storage closes). */
  flush(): Promise<void>;
}

export async function openRelationPushStores(
  db: PgDatabase,
  streams: PgStreams,
): Promise<RelationPushStores> {
  // Events stored before start are unknown to the parents: they may have children.
  const parents = new RelationParents(streams.events.persistedUpTo());
  const notifications = await openPgNotificationStore(db, streams.events);
  return {
    relations: new PgRelationStore(db, parents, streams.events),
    notifications,
    relationIndex: new PgRelationIndexWriter(parents),
    flush: () => notifications.flush(),
  };
}
