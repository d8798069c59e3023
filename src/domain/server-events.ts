/**
 * What one area of the server tells the others, through the one EventBus the
 * composition root (app.ts) makes. Each is emitted after the fact it names is
 * durable; listeners react (wake long-polls, mark presence, queue work) and
 * never fail the emitter. Awaited collaborations (a receipt moving unread
 * counts before it is answered) are constructor interfaces instead.
 */
import type { EventBus } from '../util/event-bus.js';
import type { EventRecord } from '../events/records.js';

export interface ServerEvents {
  /** A batch of room events committed, in stream order, before any sender is answered. */
  eventsCommitted: readonly EventRecord[];
  /** The user did something besides sending an event (typed, sent a receipt): presence. */
  userActive: string;
  /** The user's display name or avatar changed. */
  profileChanged: string;
  /** The user's push rules changed. */
  pushRulesChanged: string;
  /** The user's deactivation committed: their rooms are to be left. */
  accountDeactivated: string;
}

export type ServerEventBus = EventBus<ServerEvents>;
