/**
 * To-device messages: /sendToDevice queues them per recipient device, and the
 * device's /sync delivers them in arrival order.
 *
 * Acknowledgement: a message stays queued until the device syncs with a token
 * whose toDevice position is at or past it, which proves the client received
 * the response that carried it. A client that crashes mid-sync, or a server
 * killed after answering, repeats the old token and gets the messages again.
 *
 * Backlogs: a response carries at most MAX_PER_SYNC messages, and its
 * next_batch holds the to-device position back at the last one delivered
 * (the other streams move on): the next sync acknowledges those, finds the
 * rest at once, and nothing is moved or copied however long the backlog.
 */
import { serverNameOf } from '../events/auth/ids.js';
import { errors } from '../protocol/errors.js';
import type { Viewer } from '../sync/event-views.js';
import type { JsonObject as EventJson } from '../events/pdu.js';
import type { DeviceReader } from '../storage/readers.js';
import type { Storage, ToDeviceRecipient, ToDeviceStore } from '../storage/storage.js';
import type { Notifier } from '../sync/notifier.js';
import type { StreamContext, SyncResponseParts, SyncStreamProvider } from '../sync/sync-streams.js';
import { isObject, jsonSize, type JsonObject } from './key-rules.js';

/** About 100 per response, as Synapse: a big backlog is spread over a few syncs. */
export const MAX_PER_SYNC = 100;
/** One message's size, as federation's EDU limit: what a remote server would accept too. */
export const MAX_MESSAGE_BYTES = 65_536;

export interface SendToDevice {
  sender: Viewer;
  eventType: string;
  txnId: string;
  /** user ID → device ID (or `*`) → content. */
  messages: unknown;
}

/** The to-device queues, and the recipients' devices a message is addressed to. */
export interface ToDeviceServiceStorage {
  toDevice: ToDeviceStore;
  devices: DeviceReader;
}

/** A to-device message for other servers' users (federation: remote user → device or `*` → content). */
export interface RemoteToDeviceMessage {
  sender: { userId: string; deviceId: string };
  eventType: string;
  txnId: string;
  messages: Record<string, Record<string, JsonObject>>;
}

/** Where messages to remote users go: stored for their servers before the client is answered. */
export interface RemoteToDeviceSink {
  sendToDevice(message: RemoteToDeviceMessage): Promise<void>;
}

export class ToDeviceService {
  constructor(
    private readonly storage: ToDeviceServiceStorage,
    private readonly notifier: Notifier,
    private readonly serverName: string,
    /** Federation's sender; without it, messages to remote users are dropped (as to unknown devices). */
    private readonly remote?: RemoteToDeviceSink,
  ) {}

  /** PUT /sendToDevice: queues the messages once per (device, event type, txnId). */
  async send(request: SendToDevice): Promise<void> {
    const { sender, eventType, txnId } = request;
    const { queued, remote } = await this.recipientMessages(request);
    // Remote first: stored per destination (a client's retry stores it again under the same
    // message_id, which the receiving server drops), then the local queues under the txnId.
    if (this.remote && Object.keys(remote).length > 0) {
      await this.remote.sendToDevice({
        sender: { userId: sender.userId, deviceId: sender.deviceId },
        eventType,
        txnId,
        messages: remote,
      });
    }
    const done = await this.storage.toDevice.enqueue(
      {
        userId: sender.userId,
        deviceId: sender.deviceId,
        endpoint: `sendToDevice/${eventType}`,
        txnId,
      },
      queued,
    );
    // A retried transaction (done before) or nobody to deliver to: nothing to announce.
    if (done === undefined || queued.length === 0) return;
    this.notifier.notify({
      stream: 'toDevice',
      position: done.lastPosition,
      userIds: new Set(queued.map((m) => m.recipient.userId)),
    });
  }

  private async recipientMessages(request: SendToDevice) {
    if (!isObject(request.messages)) throw errors.badJson('messages must be an object');
    const queued: { recipient: ToDeviceRecipient; messageJson: string }[] = [];
    const remote: Record<string, Record<string, JsonObject>> = {};
    for (const [userId, byDevice] of Object.entries(request.messages)) {
      if (!isObject(byDevice)) throw errors.badJson(`messages.${userId} must be an object`);
      if (serverNameOf(userId) !== this.serverName) {
        this.addRemote(request, remote, userId, byDevice);
        continue;
      }
      for (const [deviceId, content] of Object.entries(byDevice)) {
        const messageJson = messageFor(request, content);
        for (const recipient of await this.devicesNamed(userId, deviceId)) {
          queued.push({ recipient, messageJson });
        }
      }
    }
    return { queued, remote };
  }

  /** A remote user's messages, checked as local ones are (objects, size), for federation. */
  private addRemote(
    request: SendToDevice,
    remote: Record<string, Record<string, JsonObject>>,
    userId: string,
    byDevice: JsonObject,
  ): void {
    if (!this.remote || serverNameOf(userId) === undefined) return;
    const devices: Record<string, JsonObject> = {};
    for (const [deviceId, content] of Object.entries(byDevice)) {
      messageFor(request, content);
      devices[deviceId] = content as JsonObject;
    }
    remote[userId] = devices;
  }

  /** The device, or every device of the user for `*`; none when unknown. */
  private async devicesNamed(userId: string, deviceId: string): Promise<ToDeviceRecipient[]> {
    if (deviceId === '*') {
      return (await this.storage.devices.listDevices(userId)).map((d) => ({
        userId,
        deviceId: d.deviceId,
      }));
    }
    return (await this.storage.devices.getDevice(userId, deviceId)) ? [{ userId, deviceId }] : [];
  }
}

/** The event a recipient gets, as JSON, within the size limit. */
function messageFor(request: SendToDevice, content: unknown): string {
  if (!isObject(content)) throw errors.badJson('Each message content must be an object');
  const event: JsonObject = { sender: request.sender.userId, type: request.eventType, content };
  if (jsonSize(event) > MAX_MESSAGE_BYTES) {
    throw errors.tooLarge(`A to-device message may be at most ${MAX_MESSAGE_BYTES} bytes`);
  }
  return JSON.stringify(event);
}

/** The to-device queues only. */
export type ToDeviceProviderStorage = Pick<Storage, 'toDevice'>;

/** `to_device` of /sync: acknowledges what the last response delivered, delivers what is next. */
export class ToDeviceProvider implements SyncStreamProvider {
  readonly name = 'toDevice';
  readonly stream = 'toDevice' as const;

  constructor(private readonly storage: ToDeviceProviderStorage) {}

  currentPosition(): Promise<number> {
    return this.storage.toDevice.maxPosition();
  }

  async contribute(context: StreamContext, parts: SyncResponseParts): Promise<boolean> {
    const device = { userId: context.viewer.userId, deviceId: context.viewer.deviceId };
    const after = context.since?.toDevice ?? 0;
    if (context.since) await this.storage.toDevice.acknowledge(device, after);
    // At least one: a limit of 0 would move next_batch past messages never delivered.
    const most = Math.max(1, Math.min(context.toDeviceLimit ?? MAX_PER_SYNC, MAX_PER_SYNC));
    const batch = await this.storage.toDevice.pending(
      device,
      after,
      context.upper.toDevice,
      most + 1,
    );
    const delivered = batch.slice(0, most);
    const last = delivered.at(-1);
    if (batch.length > most && last) parts.heldBack.toDevice = last.position;
    parts.top.to_device.events = delivered.map((m) => JSON.parse(m.messageJson) as EventJson);
    return delivered.length > 0;
  }
}
