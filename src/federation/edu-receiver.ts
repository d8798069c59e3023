/**
 * Inbound EDUs (`PUT /send/{txnId}`'s `edus`, handed over by the transaction
 * receiver): typing, receipts, presence, to-device messages, device list and
 * signing key updates. A server speaks only for its own users, and of rooms
 * those users are joined to; a malformed or unauthorised EDU is dropped with
 * a debug line (EDUs get no answer, and a bad one never fails the request).
 *
 * The room EDUs (typing, receipts) of a server the room's server ACL denies
 * are dropped too (MSC4163, as Synapse; server-acl.ts).
 *
 * Device list and signing key updates are not applied as deltas: each marks
 * the user's list changed (local room-mates' clients see
 * `device_lists.changed` and query the keys again) and drops the keys cached
 * for the user (e2ee/remote-keys.ts), so the next query asks their server.
 */
import type { Logger } from 'pino';
import type { JsonObject } from '../events/pdu.js';
import { currentMembership } from '../rooms/current-membership.js';
import type { DeviceReader, MembershipReader, RoomStateReader } from '../storage/readers.js';
import type {
  PresenceStore,
  ReceiptStore,
  ToDeviceRecipient,
  ToDeviceStore,
} from '../storage/storage.js';
import type { Notifier } from '../sync/notifier.js';
import {
  parseDirectToDevice,
  parseKeysChanged,
  parsePresence,
  parseReceipts,
  parseTyping,
  type RemotePresence,
  type RemoteReceipt,
  type RemoteToDevice,
} from './edu-rules.js';
import { ServerAclCheck } from './server-acl.js';

/** The typing area's side for remote users (ephemeral/typing-service.ts). */
export interface RemoteTyping {
  setRemoteTyping(roomId: string, userId: string, typing: boolean): void;
}

/** The device lists' side: a user's list changed (e2ee/device-lists.ts). */
export interface DeviceListChanges {
  recordChange(userId: string): Promise<void>;
}

export interface EduReceiverStorage {
  rooms: RoomStateReader & MembershipReader;
  receipts: ReceiptStore;
  presence: PresenceStore;
  toDevice: ToDeviceStore;
  devices: DeviceReader;
}

export interface EduReceiverDeps {
  serverName: string;
  storage: EduReceiverStorage;
  notifier: Notifier;
  typing: RemoteTyping;
  deviceLists: DeviceListChanges;
  /** Off (config presence.enabled): remote presence is ignored as ours is not tracked. */
  presenceEnabled: boolean;
  /** Told of every origin that sent EDUs: it is up (FederationSending.heardFrom). */
  heardFrom?: (origin: string) => void;
  /** The rooms' server ACLs; by default read from `storage.rooms`. */
  acl?: Pick<ServerAclCheck, 'isAllowed'>;
  logger: Logger;
  now?: () => number;
}

type Json = Record<string, unknown>;

export class EduReceiver {
  private readonly acl: Pick<ServerAclCheck, 'isAllowed'>;

  constructor(private readonly deps: EduReceiverDeps) {
    this.acl = deps.acl ?? new ServerAclCheck(deps.storage.rooms);
  }

  async receive(origin: string, edus: readonly unknown[]): Promise<void> {
    this.deps.heardFrom?.(origin);
    for (const edu of edus) {
      try {
        await this.receiveOne(origin, edu);
      } catch (err) {
        // One EDU's failure (storage) does not keep the others from being received.
        this.deps.logger.warn({ err, origin }, 'federation: an EDU failed');
      }
    }
  }

  private async receiveOne(origin: string, edu: unknown): Promise<void> {
    const { edu_type: type, content } = (edu ?? {}) as { edu_type?: unknown; content?: unknown };
    if (typeof content !== 'object' || content === null || Array.isArray(content)) {
      return this.ignore(origin, type, 'content is not an object');
    }
    const body = content as Json;
    switch (type) {
      case 'm.typing':
        return this.typing(origin, body);
      case 'm.receipt':
        for (const receipt of parseReceipts(origin, body)) await this.receipt(origin, receipt);
        return;
      case 'm.presence':
        if (!this.deps.presenceEnabled) return;
        for (const update of parsePresence(origin, body)) await this.presence(origin, update);
        return;
      case 'm.direct_to_device':
        return this.toDevice(origin, body);
      case 'm.device_list_update':
      case 'm.signing_key_update':
        return this.keysChanged(origin, type, body);
      default:
        return this.ignore(origin, type, 'unknown EDU type');
    }
  }

  private async typing(origin: string, content: Json): Promise<void> {
    const typing = parseTyping(origin, content);
    if (!typing) return this.ignore(origin, 'm.typing', 'malformed or not the origin’s user');
    if (!(await this.acl.isAllowed(typing.roomId, origin))) {
      return this.ignore(origin, 'm.typing', 'denied by the room’s server ACL');
    }
    if (!(await this.joined(typing.roomId, typing.userId))) {
      return this.ignore(origin, 'm.typing', 'the user is not joined');
    }
    this.deps.typing.setRemoteTyping(typing.roomId, typing.userId, typing.typing);
  }

  private async receipt(origin: string, receipt: RemoteReceipt): Promise<void> {
    const { roomId, userId, eventId } = receipt;
    if (!(await this.acl.isAllowed(roomId, origin))) {
      return this.ignore(origin, 'm.receipt', 'denied by the room’s server ACL');
    }
    if (!(await this.joined(roomId, userId))) {
      return this.ignore(origin, 'm.receipt', 'the user is not joined');
    }
    const event = await this.deps.storage.rooms.getEvent(eventId);
    // An event we do not hold (yet), or off the stream: nothing to place the receipt at.
    if (!event || event.roomId !== roomId || event.streamOrdering <= 0) {
      return this.ignore(origin, 'm.receipt', 'unknown event');
    }
    const position = await this.deps.storage.receipts.put({
      roomId,
      receiptType: 'm.read',
      userId,
      ...(receipt.threadId === undefined ? {} : { threadId: receipt.threadId }),
      eventId,
      eventPosition: event.streamOrdering,
      ts: receipt.ts ?? this.now(),
    });
    if (position !== undefined) {
      this.deps.notifier.notify({ stream: 'receipts', position, roomIds: [roomId] });
    }
  }

  /** Stored only for users sharing a room with us: no one else's presence is anyone's business here. */
  private async presence(origin: string, update: RemotePresence): Promise<void> {
    const roomIds = await this.deps.storage.rooms.roomsWithMembership(update.userId, 'join');
    if (roomIds.length === 0) return this.ignore(origin, 'm.presence', 'no room shared');
    const position = await this.deps.storage.presence.put({
      userId: update.userId,
      state: update.state,
      ...(update.statusMsg === undefined ? {} : { statusMsg: update.statusMsg }),
      lastActiveTs: this.now() - update.lastActiveAgo,
    });
    this.deps.notifier.notify({ stream: 'presence', position, userIds: [update.userId], roomIds });
  }

  /**
   * Queued for our users' devices once per (origin, message_id): the to-device
   * store's transaction table drops a repeat (a retried transaction).
   */
  private async toDevice(origin: string, content: Json): Promise<void> {
    const message = parseDirectToDevice(origin, content, this.deps.serverName);
    if (!message) return this.ignore(origin, 'm.direct_to_device', 'malformed');
    const queued = await this.recipients(message);
    const done = await this.deps.storage.toDevice.enqueue(
      {
        userId: message.sender,
        deviceId: '',
        endpoint: `federation/${origin}`,
        txnId: message.messageId,
      },
      queued,
    );
    if (done === undefined || queued.length === 0) return;
    this.deps.notifier.notify({
      stream: 'toDevice',
      position: done.lastPosition,
      userIds: new Set(queued.map((m) => m.recipient.userId)),
    });
  }

  private async recipients(message: RemoteToDevice) {
    const queued: { recipient: ToDeviceRecipient; messageJson: string }[] = [];
    for (const [userId, byDevice] of message.messages) {
      for (const [deviceId, content] of byDevice) {
        const messageJson = JSON.stringify({
          sender: message.sender,
          type: message.type,
          content,
        } satisfies JsonObject);
        for (const deviceIdOf of await this.devicesNamed(userId, deviceId)) {
          queued.push({ recipient: { userId, deviceId: deviceIdOf }, messageJson });
        }
      }
    }
    return queued;
  }

  private async devicesNamed(userId: string, deviceId: string): Promise<string[]> {
    const devices = this.deps.storage.devices;
    if (deviceId === '*') return (await devices.listDevices(userId)).map((d) => d.deviceId);
    return (await devices.getDevice(userId, deviceId)) ? [deviceId] : [];
  }

  /** Only for a user sharing a room with us (else nobody here cares, and it costs a stream row). */
  private async keysChanged(origin: string, type: string, content: Json): Promise<void> {
    const userId = parseKeysChanged(origin, content);
    if (!userId) return this.ignore(origin, type, 'not the origin’s user');
    const rooms = await this.deps.storage.rooms.roomsWithMembership(userId, 'join');
    if (rooms.length === 0) return this.ignore(origin, type, 'no room shared');
    await this.deps.deviceLists.recordChange(userId);
  }

  private async joined(roomId: string, userId: string): Promise<boolean> {
    return (await currentMembership(this.deps.storage, roomId, userId)) === 'join';
  }

  private ignore(origin: string, type: unknown, reason: string): void {
    this.deps.logger.debug({ origin, eduType: type, reason }, 'federation: EDU ignored');
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }
}
