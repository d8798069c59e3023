/**
 * What the federation sender keeps (federation/federation-sending.ts): per
 * destination server, the PDUs and the durable EDUs (to-device messages,
 * device list and signing key updates) not yet acknowledged, how far into
 * the event and device list streams it has queued everything, and each
 * destination's backoff. Nothing here is sent before it is stored.
 */

/** The streams whose "queued up to" mark is kept: at start, what comes after is read again. */
export type SendingStream = 'events' | 'deviceLists';

export interface QueuedPdu {
  destination: string;
  /** The event's place in the event stream: a destination's PDUs go in this order. */
  streamOrdering: number;
  eventId: string;
}

export interface NewQueuedEdu {
  destination: string;
  eduType: string;
  /** The EDU's content, as JSON. */
  contentJson: string;
}

export interface QueuedEdu extends NewQueuedEdu {
  /** Increasing per insertion: a destination's EDUs go in this order. */
  id: number;
}

/** A destination that failed: how many times in a row, and not before when to try again. */
export interface DestinationRetry {
  failures: number;
  retryAtTs: number;
}

export interface FederationSendingStore {
  /** The mark of a stream; undefined before the first start. */
  position(stream: SendingStream): Promise<number | undefined>;
  /** Sets the mark unless it exists (a new server does not send its history). */
  initialisePosition(stream: SendingStream, position: number): Promise<void>;
  /**
   * In one transaction: appends the PDUs to their destinations' queues (a row
   * already there is kept: catching up after a crash may queue one again) and
   * moves the events mark forward to `upTo` (never back).
   */
  enqueuePdus(pdus: readonly QueuedPdu[], upTo: number): Promise<void>;
  /** In one transaction: appends the EDUs and, when given, moves a stream's mark forward. */
  enqueueEdus(
    edus: readonly NewQueuedEdu[],
    mark?: { stream: SendingStream; upTo: number },
  ): Promise<void>;
  /** Destinations with anything queued (resumed at start). */
  destinationsWithQueues(): Promise<string[]>;
  /** The destination's oldest queued PDUs, in stream order, at most `limit`. */
  pendingPdus(destination: string, limit: number): Promise<QueuedPdu[]>;
  /** The destination's oldest queued EDUs, in insertion order, at most `limit`. */
  pendingEdus(destination: string, limit: number): Promise<QueuedEdu[]>;
  /** How many PDUs wait for the destination. */
  pduBacklog(destination: string): Promise<number>;
  /**
   * Catching up: drops the destination's queued PDUs but each room's newest
   * `keepPerRoom`; returns how many went.
   */
  dropOlderPdusPerRoom(destination: string, keepPerRoom: number): Promise<number>;
  /** A transaction was acknowledged: its rows go (named one by one, never by range). */
  removeSent(
    destination: string,
    streamOrderings: readonly number[],
    eduIds: readonly number[],
  ): Promise<void>;
  retry(destination: string): Promise<DestinationRetry | undefined>;
  /** Records a failure's backoff, or (undefined) clears it after a success. */
  setRetry(destination: string, retry: DestinationRetry | undefined): Promise<void>;
  /** Event IDs with stream positions in (after, upTo], in stream order, at most `limit`. */
  eventIdsAfter(after: number, upTo: number, limit: number): Promise<string[]>;
}
