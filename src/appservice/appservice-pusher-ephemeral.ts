/**
 * Ephemeral events and to-device messages for application services, heard
 * from the Notifier (every stream's committed changes) and handed to the
 * workers of the services that want them (`receive_ephemeral` or MSC2409's
 * `push_ephemeral`). Best effort and in memory, as the module comment of
 * appservice-pusher.ts says: each stream's position here starts at the
 * present when Weft starts.
 *
 * Which ones, as Synapse (synapse/handlers/appservice.py): typing and receipts
 * of rooms the service is interested in (private receipts never); presence of
 * users it is interested in or sharing an interesting room; to-device
 * messages to its users' devices, with `to_user_id` and `to_device_id` (MSC4203).
 */
import type { Logger } from 'pino';
import type { ReceiptRecord, Storage } from '../storage/storage.js';
import type { ObservedChange } from '../sync/notifier.js';
import type { ServiceWorker } from './appservice-pusher.js';

export interface EphemeralSources {
  typists(roomId: string): string[];
  receiptChanges(after: number, upTo: number): Promise<ReceiptRecord[]>;
  presenceOf(userId: string): Promise<Record<string, unknown>>;
}

/** To-device messages read per device and change. */
const TO_DEVICE_PAGE = 100;

type Json = Record<string, unknown>;

export class AppServiceEphemeral {
  private readonly workers: ServiceWorker[];
  /** The workers of services doing end-to-bridge encryption (MSC3202): device list changes. */
  private readonly encryptionWorkers: ServiceWorker[];
  private receiptsAfter?: number;
  private toDeviceAfter?: number;
  /** One change at a time, in order. */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    workers: readonly ServiceWorker[],
    private readonly sources: EphemeralSources,
    private readonly storage: Storage,
    private readonly logger: Logger,
  ) {
    this.workers = workers.filter((worker) => worker.registration.ephemeral !== 'none');
    this.encryptionWorkers = workers.filter((worker) => worker.registration.msc3202);
  }

  /** The Notifier's observer: queues the change's work, never throws. */
  observe(change: ObservedChange): void {
    if (this.workers.length === 0 && this.encryptionWorkers.length === 0) return;
    this.chain = this.chain
      .then(() => this.handle(change))
      .catch((err: unknown) => this.logger.warn({ err }, 'appservice: ephemeral events failed'));
  }

  private async handle(change: ObservedChange): Promise<void> {
    if (change.stream === 'typing') await this.typing(change.roomIds);
    else if (change.stream === 'receipts') await this.receipts(change.position);
    else if (change.stream === 'presence') await this.presence(change);
    else if (change.stream === 'toDevice') await this.toDevice(change);
    else if (change.stream === 'deviceLists') await this.deviceLists(change);
  }

  /**
   * MSC3202: a device list change at `position`, announced to everyone sharing a
   * room with the user who changed (DeviceLists.announce). A service hears of it
   * when one of those is its own user (Synapse's rule: its namespace, or a room it
   * is interested in); which user changed is read from the stream.
   */
  private async deviceLists(change: ObservedChange): Promise<void> {
    for (const worker of this.encryptionWorkers) {
      const viewer = change.userIds.find((userId) => worker.interestedInUser(userId));
      if (viewer === undefined) continue;
      const changed = await this.storage.deviceLists.changedUsers(
        viewer,
        change.position - 1,
        change.position,
      );
      for (const userId of changed) worker.addDeviceListChange(userId);
    }
  }

  private async typing(roomIds: string[]): Promise<void> {
    for (const roomId of roomIds) {
      const event = {
        type: 'm.typing',
        room_id: roomId,
        content: { user_ids: this.sources.typists(roomId) },
      };
      await this.toInterested(roomId, event);
    }
  }

  private async receipts(position: number): Promise<void> {
    // The first change tells where the stream was: receipts before it are not sent.
    const after = this.receiptsAfter ?? position - 1;
    this.receiptsAfter = Math.max(after, position);
    if (position <= after) return;
    const records = await this.sources.receiptChanges(after, position);
    for (const [roomId, content] of receiptContents(records)) {
      await this.toInterested(roomId, { type: 'm.receipt', room_id: roomId, content });
    }
  }

  private async presence(change: ObservedChange): Promise<void> {
    for (const userId of change.userIds) {
      const wanting: ServiceWorker[] = [];
      for (const worker of this.workers) {
        if (
          worker.interestedInUser(userId) ||
          (await someRoomInteresting(worker, change.roomIds))
        ) {
          wanting.push(worker);
        }
      }
      if (wanting.length === 0) continue;
      const event = {
        type: 'm.presence',
        sender: userId,
        content: await this.sources.presenceOf(userId),
      };
      for (const worker of wanting) worker.addEphemeral(event);
    }
  }

  private async toDevice(change: ObservedChange): Promise<void> {
    const after = this.toDeviceAfter ?? change.position - 1;
    this.toDeviceAfter = Math.max(after, change.position);
    if (change.position <= after) return;
    for (const userId of change.userIds) {
      const wanting = this.workers.filter((worker) => worker.interestedInUser(userId));
      if (wanting.length === 0) continue;
      for (const message of await this.messagesOf(userId, after, change.position)) {
        for (const worker of wanting) worker.addToDevice(message);
      }
    }
  }

  private async messagesOf(userId: string, after: number, upTo: number): Promise<Json[]> {
    const messages: Json[] = [];
    for (const device of await this.storage.devices.listDevices(userId)) {
      const recipient = { userId, deviceId: device.deviceId };
      const pending = await this.storage.toDevice.pending(recipient, after, upTo, TO_DEVICE_PAGE);
      for (const message of pending) {
        // Synapse's shape: the message (type, sender, content) with its recipient's IDs.
        messages.push({
          to_user_id: userId,
          to_device_id: device.deviceId,
          ...(JSON.parse(message.messageJson) as Json),
        });
      }
    }
    return messages;
  }

  private async toInterested(roomId: string, event: Json): Promise<void> {
    for (const worker of this.workers) {
      if (await worker.interestedInRoom(roomId)) worker.addEphemeral(event);
    }
  }
}

async function someRoomInteresting(worker: ServiceWorker, roomIds: string[]): Promise<boolean> {
  for (const roomId of roomIds) if (await worker.interestedInRoom(roomId)) return true;
  return false;
}

/** m.receipt contents per room, private receipts left out (Synapse never sends them to services). */
function receiptContents(records: ReceiptRecord[]): Map<string, Json> {
  const byRoom = new Map<string, Record<string, Record<string, Record<string, Json>>>>();
  for (const record of records) {
    if (record.receiptType === 'm.read.private') continue;
    const content = byRoom.get(record.roomId) ?? {};
    byRoom.set(record.roomId, content);
    const ofEvent = (content[record.eventId] ??= {});
    const ofType = (ofEvent[record.receiptType] ??= {});
    ofType[record.userId] = {
      ts: record.ts,
      ...(record.threadId === undefined ? {} : { thread_id: record.threadId }),
    };
  }
  return byRoom;
}
