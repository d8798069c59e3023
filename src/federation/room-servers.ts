/**
 * The servers of each room: the server parts of its joined members. Loaded
 * once per room from the current state's membership index, then kept current
 * from the member events the sender sees committed (local and received
 * alike), in stream order.
 *
 * Loaded while the sender is behind (catching up at start), the current state
 * may already hold member events the sender has not reached yet: applied
 * afterwards they set those members as they were at that point, so the only
 * error left is a member whose later change has no earlier event in the
 * backlog (a server that joined later counted early: it gets a few extra
 * events; one that left later missed by the events before its leave, which it
 * can backfill).
 */
import { serverNameOf } from '../events/auth/ids.js';
import type { EventRecord } from '../events/records.js';
import type { DeviceListStore } from '../storage/storage.js';
import { LruCache } from '../util/lru-cache.js';
import { serversOf } from './sending-rules.js';

/** Rooms whose members are kept in memory. */
const MAX_ROOMS = 10_000;

/** The current state's joined members of a room (one index range). */
export type JoinedMembersReader = Pick<DeviceListStore, 'joinedMembers'>;

type Members = Set<string>;

export class RoomServers {
  private readonly rooms = new LruCache<string, Promise<Members>>(MAX_ROOMS);

  constructor(
    private readonly members: JoinedMembersReader,
    private readonly ourServer: string,
  ) {}

  /** The room's servers now, ours left out. */
  async serversOf(roomId: string): Promise<Set<string>> {
    return serversOf(await this.joined(roomId), this.ourServer);
  }

  /** The servers of several rooms together. */
  async serversOfRooms(roomIds: Iterable<string>): Promise<Set<string>> {
    const servers = new Set<string>();
    for (const roomId of roomIds) for (const s of await this.serversOf(roomId)) servers.add(s);
    return servers;
  }

  /**
   * Rolls the room forward over one committed event (call in stream order);
   * answers its servers before and after it.
   */
  async apply(record: EventRecord): Promise<{ before: Set<string>; after: Set<string> }> {
    let joined = await this.joined(record.roomId);
    const before = serversOf(joined, this.ourServer);
    const { type, state_key: stateKey, content } = record.pdu;
    if (type !== 'm.room.member' || stateKey === undefined) return { before, after: before };
    if (content.membership === 'join' && this.firstOfOurs(joined, stateKey)) {
      // Our first member in the room: if it joined a remote room, send_join brought the
      // whole state with it (every member already there) and no member event of theirs
      // will ever be committed here. A room held before the join (an invite received)
      // would keep its members as they were then, and nothing would be sent to them.
      this.rooms.delete(record.roomId);
      joined = await this.joined(record.roomId);
    }
    if (content.membership === 'join') joined.add(stateKey);
    else joined.delete(stateKey);
    return { before, after: serversOf(joined, this.ourServer) };
  }

  /** Whether `userId` is one of ours and none of ours is among `joined`. */
  private firstOfOurs(joined: Members, userId: string): boolean {
    if (serverNameOf(userId) !== this.ourServer) return false;
    for (const member of joined) if (serverNameOf(member) === this.ourServer) return false;
    return true;
  }

  /** Forgets a room (purged, deleted): loaded again at its next use. */
  forget(roomId: string): void {
    this.rooms.delete(roomId);
  }

  private joined(roomId: string): Promise<Members> {
    return this.rooms.getOrSet(roomId, () => {
      const loading = this.members.joinedMembers(roomId).then((ids) => new Set(ids));
      loading.catch(() => this.rooms.delete(roomId));
      return loading;
    });
  }
}
