/** The PostgreSQL stores of rooms: events and state, aliases and the published directory. */
import type { DirectoryStore, RoomStore } from '../storage.js';
import type { PgDatabase } from './database.js';
import { PgDirectoryStore } from './directory-store.js';
import type { PgRelationIndex } from './relation-index.js';
import { PgRoomStore } from './room-store.js';
import type { PgStreams } from './streams.js';

export async function openRoomStores(
  db: PgDatabase,
  streams: PgStreams,
  relationIndex: PgRelationIndex,
): Promise<{ rooms: RoomStore; directory: DirectoryStore; flush(): Promise<void> }> {
  const rooms = new PgRoomStore(db, streams.events, relationIndex);
  return {
    rooms,
    directory: new PgDirectoryStore(db),
    // Every event batch handed in commits (or fails) before the pool closes.
    flush: () => rooms.flush(),
  };
}
