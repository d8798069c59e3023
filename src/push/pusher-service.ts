/**
 * Pushers: `GET /pushers`, `POST /pushers/set`, and delivery to push gateways.
 *
 * Each pusher walks its user's unread notifications after its stored
 * `last_stream_ordering`, one at a time, and stores its progress after each:
 * a restart resumes where it stopped, and nothing waits on it (the notifier
 * only kicks it). A failed send is retried with exponential backoff
 * (`push.retry_initial_ms`, doubling) until `push.give_up_after_ms`, then the
 * notification is skipped and the reason recorded on the pusher. Pushers run
 * independently, so one stuck gateway holds up only its own pusher. A pushkey
 * the gateway reports as `rejected` loses its pusher.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { PushConfig } from '../config/config.js';
import type { JsonObject } from '../events/pdu.js';
import type { RoomStateReader, StreamPositionReader } from '../storage/readers.js';
import type {
  NotificationRecord,
  NotificationStore,
  PusherRecord,
  PusherStore,
} from '../storage/storage.js';
import { notificationEffect } from './evaluator.js';
import { eventDetails } from './event-details.js';
import { AddressPolicy } from '../net/address-rules.js';
import { notificationBody, sendToGateway } from './push-gateway.js';
import type { PushAction } from '../domain/push-rules.js';
import { gatewayData, parsePusherRequest, pusherJson } from './pusher-rules.js';

/** Notifications read per step of a pusher's walk. */
const PAGE = 20;

type Delivery = 'sent' | 'gave-up' | 'removed' | 'stopped';

function pusherKey(p: Pick<PusherRecord, 'userId' | 'appId' | 'pushkey'>): string {
  return JSON.stringify([p.userId, p.appId, p.pushkey]);
}

/** Pushers and the notifications they send, with the events and room state a push describes. */
export interface PusherServiceStorage {
  pushers: PusherStore;
  notifications: NotificationStore;
  rooms: RoomStateReader & StreamPositionReader;
}

export class PusherService {
  /** Pushers walking their notifications now; a kick meanwhile makes them look again. */
  private readonly running = new Map<string, Promise<void>>();
  private readonly kickedAgain = new Set<string>();
  private readonly stop = new AbortController();
  /**
   * Users who have or had a pusher: a kick for anyone else (most users, on
   * every message of their rooms) reads nothing. Undefined until `start`
   * has loaded it, meanwhile every kick looks.
   */
  private usersWithPushers: Set<string> | undefined;

  /** Pushers walking their notifications now (a metrics gauge). */
  get runningCount(): number {
    return this.running.size;
  }

  /** Where gateways may be: public addresses, and the private ones the config names. */
  private readonly addresses: AddressPolicy;

  constructor(
    private readonly storage: PusherServiceStorage,
    private readonly config: PushConfig,
    private readonly logger: Logger,
  ) {
    this.addresses = new AddressPolicy({ allowed: config.ip_range_whitelist });
  }

  async list(userId: string) {
    return { pushers: (await this.storage.pushers.list(userId)).map(pusherJson) };
  }

  /** `POST /pushers/set` by the user's device: creates, replaces or (kind null) deletes. */
  async set(userId: string, deviceId: string, body: unknown): Promise<void> {
    const request = parsePusherRequest(body, this.config.http_allowed_hosts);
    if (request.kind === null) {
      await this.storage.pushers.delete(userId, request.appId, request.pushkey);
      return;
    }
    this.usersWithPushers?.add(userId);
    const existing = (await this.storage.pushers.list(userId)).find(
      (p) => p.appId === request.appId && p.pushkey === request.pushkey,
    );
    const pusher: PusherRecord = {
      userId,
      appId: request.appId,
      pushkey: request.pushkey,
      kind: request.kind,
      deviceId,
      appDisplayName: request.appDisplayName,
      deviceDisplayName: request.deviceDisplayName,
      lang: request.lang,
      data: request.data,
      pushkeyTs: Math.floor(Date.now() / 1000),
      // A new pusher pushes what comes from now on, not the user's backlog.
      lastStreamOrdering:
        existing?.lastStreamOrdering ?? (await this.storage.rooms.maxStreamOrdering()),
    };
    if (request.profileTag !== undefined) pusher.profileTag = request.profileTag;
    await this.storage.pushers.put(pusher, request.append);
  }

  /** Resumes every pusher (notifications stored while the server was down, or unsent). */
  async start(): Promise<void> {
    const users = await this.storage.pushers.usersWithPushers();
    this.usersWithPushers = new Set(users);
    for (const userId of users) this.kick(userId);
  }

  /** The user has new notifications: each of their pushers looks for them. */
  kick(userId: string): void {
    if (this.stop.signal.aborted) return;
    if (this.usersWithPushers && !this.usersWithPushers.has(userId)) return;
    this.storage.pushers
      .list(userId)
      .then((pushers) => pushers.forEach((pusher) => this.run(pusher)))
      .catch((err: unknown) => this.logger.error({ err, userId }, 'push: listing pushers failed'));
  }

  /** Stops every pusher (their progress is stored) and waits for them. */
  async close(): Promise<void> {
    this.stop.abort();
    await Promise.allSettled([...this.running.values()]);
  }

  private run(pusher: PusherRecord): void {
    const key = pusherKey(pusher);
    if (this.running.has(key)) {
      this.kickedAgain.add(key);
      return;
    }
    const walk = this.walk(pusher)
      .catch((err: unknown) => this.logger.error({ err }, 'push: pusher failed'))
      .finally(() => {
        this.running.delete(key);
        if (this.kickedAgain.delete(key)) this.kick(pusher.userId);
      });
    this.running.set(key, walk);
  }

  /** Sends the user's unread notifications after the pusher's progress, oldest first. */
  private async walk(pusher: PusherRecord): Promise<void> {
    let after = pusher.lastStreamOrdering;
    for (;;) {
      const page = await this.storage.notifications.unreadAfter(pusher.userId, after, PAGE);
      if (page.length === 0) return;
      for (const notification of page) {
        const outcome = await this.deliver(pusher, notification);
        if (outcome === 'removed' || outcome === 'stopped') return;
        after = notification.streamOrdering;
      }
    }
  }

  private async deliver(pusher: PusherRecord, notification: NotificationRecord): Promise<Delivery> {
    const body = await this.bodyFor(pusher, notification);
    const outcome = body ? await this.sendWithRetries(pusher, body) : { delivery: 'sent' as const };
    if (outcome.delivery === 'removed' || outcome.delivery === 'stopped') return outcome.delivery;
    await this.storage.pushers.setProgress(pusher.userId, pusher.appId, pusher.pushkey, {
      lastStreamOrdering: notification.streamOrdering,
      ...(outcome.delivery === 'gave-up'
        ? { failingSince: outcome.failingSince, lastError: outcome.reason }
        : {}),
    });
    return outcome.delivery;
  }

  /** Undefined when there is nothing to push (the event is gone or was redacted since). */
  private async bodyFor(pusher: PusherRecord, n: NotificationRecord) {
    const event = await this.storage.rooms.getEvent(n.eventId);
    if (!event || event.redactedBy) return undefined;
    const effect = notificationEffect(n.actions as PushAction[]);
    return notificationBody({
      event: await eventDetails(this.storage, event, pusher.userId),
      unread: await this.storage.notifications.totalUnread(pusher.userId),
      device: {
        app_id: pusher.appId,
        pushkey: pusher.pushkey,
        pushkey_ts: pusher.pushkeyTs,
        data: gatewayData(pusher) as JsonObject,
        tweaks: effect.tweaks,
      },
      eventIdOnly: pusher.data.format === 'event_id_only',
    });
  }

  private async sendWithRetries(pusher: PusherRecord, body: JsonObject) {
    const url = String(pusher.data.url);
    const failingSince = Date.now();
    let delay = this.config.retry_initial_ms;
    for (;;) {
      const result = await sendToGateway(url, body, this.addresses, this.stop.signal);
      if (this.stop.signal.aborted) return { delivery: 'stopped' as const };
      if (result.ok) return { delivery: await this.handleRejected(pusher, result.rejected) };
      if (Date.now() + delay - failingSince > this.config.give_up_after_ms) {
        this.logger.warn({ url, reason: result.reason }, 'push: gave up on a notification');
        return { delivery: 'gave-up' as const, failingSince, reason: result.reason };
      }
      if (!(await this.pause(delay))) return { delivery: 'stopped' as const };
      delay *= 2;
    }
  }

  private async handleRejected(pusher: PusherRecord, rejected: string[]): Promise<Delivery> {
    if (!rejected.includes(pusher.pushkey)) return 'sent';
    // "Homeservers must cease sending notification requests for these pushkeys and remove the associated pushers."
    await this.storage.pushers.delete(pusher.userId, pusher.appId, pusher.pushkey);
    return 'removed';
  }

  /** False when the service stopped during the pause. */
  private async pause(ms: number): Promise<boolean> {
    try {
      await sleep(ms, undefined, { signal: this.stop.signal });
      return true;
    } catch {
      return false;
    }
  }
}
