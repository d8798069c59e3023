/**
 * The receipts stream of /sync: one `m.receipt` event per joined room with
 * receipts changed in (since, upper], or with all its receipts when the room's
 * section is fresh. Private receipts reach only their owner.
 */
import type { ReceiptRecord } from '../storage/storage.js';
import { eventMatchesFilter, filterBlocksEverything, roomMatchesFilter } from '../sync/filters.js';
import type { StreamContext, SyncResponseParts, SyncStreamProvider } from '../sync/sync-streams.js';
import { receiptContent } from './receipt-rules.js';
import type { ReceiptService } from './receipt-service.js';

const RECEIPT_EVENT = { type: 'm.receipt' };

export class ReceiptSyncProvider implements SyncStreamProvider {
  readonly name = 'receipts';
  readonly stream = 'receipts' as const;
  /** Everything it adds is a change of its stream, or a fresh room's whole data. */
  readonly onlyChangesOfItsStream = true;

  constructor(private readonly receipts: ReceiptService) {}

  currentPosition(): Promise<number> {
    return this.receipts.currentPosition();
  }

  async contribute(context: StreamContext, parts: SyncResponseParts): Promise<boolean> {
    const filter = context.filter.room.ephemeral;
    if (filterBlocksEverything(filter)) return false;
    let added = false;
    for (const [roomId, receipts] of await this.receiptsByRoom(context)) {
      if (!roomMatchesFilter(roomId, context.filter.room)) continue;
      if (!eventMatchesFilter(RECEIPT_EVENT, filter, roomId)) continue;
      const content = receiptContent(receipts, context.viewer.userId);
      if (Object.keys(content).length === 0) continue;
      parts.joinedRoom(roomId).ephemeral.events.push({ type: 'm.receipt', content } as never);
      added = true;
    }
    return added;
  }

  /** The receipts to send, by joined room: changes, and everything in fresh rooms. */
  private async receiptsByRoom(context: StreamContext): Promise<Map<string, ReceiptRecord[]>> {
    const joined = new Set(context.joinedRoomIds);
    const fresh = context.since ? context.freshRoomIds : joined;
    const byRoom = new Map<string, ReceiptRecord[]>();
    const add = (r: ReceiptRecord) => {
      const list = byRoom.get(r.roomId);
      if (list) list.push(r);
      else byRoom.set(r.roomId, [r]);
    };
    if (context.since) {
      const changed = await this.receipts.changes(context.since.receipts, context.upper.receipts);
      for (const r of changed) if (joined.has(r.roomId) && !fresh.has(r.roomId)) add(r);
    }
    if (fresh.size > 0) (await this.receipts.ofRooms([...fresh])).forEach(add);
    return byRoom;
  }
}
