/**
 * Receipts and read markers. `m.read` and `m.read.private` are stored (the
 * latest per room, type, user and thread; an older one is ignored) and reach the
 * room's members through the receipts stream of /sync; `m.fully_read` is the
 * room's `m.fully_read` account data and never a receipt.
 */
import type { AccountDataService } from '../account-data/account-data-service.js';
import type { ServerEventBus } from '../domain/server-events.js';
import { errors } from '../protocol/errors.js';
import { requireJoined } from '../rooms/current-membership.js';
import { threadOfContent } from '../relations/thread-of.js';
import type { RoomStateReader, ThreadReader } from '../storage/readers.js';
import type { EventRecord, ReceiptRecord, ReceiptStore } from '../storage/storage.js';
import type { Notifier } from '../sync/notifier.js';
import { FULLY_READ, MAIN_THREAD, type ReceiptType } from './receipt-rules.js';

export interface NewReceiptRequest {
  roomId: string;
  userId: string;
  receiptType: ReceiptType;
  eventId: string;
  threadId?: string;
}

/** Where a user has read up to in a room (and, for a threaded receipt, in which thread). */
export interface ReadUpTo {
  userId: string;
  roomId: string;
  streamOrdering: number;
  threadId: string | undefined;
}

/** What moves when a user has read up to somewhere (the unread counts). */
export interface ReadPositions {
  markRead(read: ReadUpTo): Promise<void>;
}

/** The receipts, and the receipted event, its thread and the user's membership. */
export interface ReceiptServiceStorage {
  receipts: ReceiptStore;
  rooms: RoomStateReader;
  relations: ThreadReader;
}

export class ReceiptService {
  constructor(
    private readonly storage: ReceiptServiceStorage,
    private readonly accountData: AccountDataService,
    private readonly notifier: Notifier,
    /** A receipt is activity (`userActive`, presence). */
    private readonly bus: ServerEventBus,
    /**
     * Told of each stored m.read / m.read.private before anyone is notified, so
     * the sync that carries the receipt carries the reset unread counts too.
     */
    private readonly readPositions: ReadPositions,
  ) {}

  async send(request: NewReceiptRequest): Promise<void> {
    const { roomId, userId, eventId } = request;
    await requireJoined(this.storage, roomId, userId);
    const event = await this.storage.rooms.getEvent(eventId);
    if (!event || event.roomId !== roomId) throw errors.notFound('Unknown event');
    if (request.threadId !== undefined) await this.checkThread(event, request.threadId);
    this.bus.emit('userActive', userId);
    if (request.receiptType === FULLY_READ) {
      await this.accountData.put(userId, roomId, FULLY_READ, { event_id: eventId });
      return;
    }
    const position = await this.storage.receipts.put({
      roomId,
      receiptType: request.receiptType,
      userId,
      ...(request.threadId === undefined ? {} : { threadId: request.threadId }),
      eventId,
      eventPosition: event.streamOrdering,
      ts: Date.now(),
    });
    // Undefined: older than the stored receipt, so nothing changed.
    if (position === undefined) return;
    await this.readPositions.markRead({
      userId,
      roomId,
      streamOrdering: event.streamOrdering,
      threadId: request.threadId,
    });
    this.notifier.notify({ stream: 'receipts', position, roomIds: [roomId] });
  }

  /**
   * receipts.yaml refuses (400) a receipt whose "event_id is not related to the
   * thread_id": `main` takes events of the main timeline (thread roots are),
   * a root's ID takes the root and the events of its thread.
   */
  private async checkThread(event: EventRecord, threadId: string): Promise<void> {
    const eventThread = await threadOfContent(this.storage.relations, event.pdu.content);
    const related =
      eventThread === threadId || (threadId !== MAIN_THREAD && event.eventId === threadId);
    if (!related) {
      throw errors.invalidParam(`${event.eventId} is not in the thread ${threadId}`);
    }
  }

  changes(after: number, upTo: number): Promise<ReceiptRecord[]> {
    return this.storage.receipts.changes(after, upTo);
  }

  ofRooms(roomIds: readonly string[]): Promise<ReceiptRecord[]> {
    return this.storage.receipts.ofRooms(roomIds);
  }

  currentPosition(): Promise<number> {
    return this.storage.receipts.maxStreamId();
  }
}
