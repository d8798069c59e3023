/**
 * Reading a room's events between two stream positions, as one user may see
 * them: the filter's conditions and history visibility applied, pages fetched
 * until enough events pass. Shared by /sync (timelines), /messages and /context.
 *
 * Positions are the event stream's (`stream_ordering`): a position P stands
 * between the events at or before P and those after it, so "events after
 * since" and "events before a prev_batch" need no special cases.
 */
import type { EventRecord, RoomStore } from '../storage/storage.js';
import { eventMatchesFilter, type RoomEventFilter } from './filters.js';
import type { RecentEvents } from './recent-events.js';

/** Decides which of a run of consecutive room events (oldest first) a user may see. */
export type VisibilityCheck = (
  userId: string,
  roomId: string,
  eventsOldestFirst: EventRecord[],
) => Promise<EventRecord[]>;

export interface HistoryRead {
  roomId: string;
  userId: string;
  /** Exclusive lower bound. */
  after: number;
  /** Inclusive upper bound. */
  upTo: number;
  limit: number;
  filter?: RoomEventFilter;
  /** Skip history visibility (a server admin's read through the Admin API). */
  allVisible?: boolean;
}

export interface HistoryPage {
  /** Oldest first. */
  events: EventRecord[];
  /**
   * The position up to which the range was read: the events kept are all after
   * it, and more events of the range (kept or not) may lie at or before it.
   * Undefined when the whole range was read.
   */
  resumeAt: number | undefined;
}

/**
 * The senders whose events a user does not want (their `m.ignored_user_list`).
 * Called once per page read, so it must be cheap: a cached set.
 */
export type HiddenSenders = (userId: string) => Promise<ReadonlySet<string>>;

/** Rows read ahead on later pages, once filtering has shown it drops events. */
const PAGE_SLACK = 10;
/** How far one request scans for events that pass filters, so a filter matching nothing stays cheap. */
const MAX_SCANNED = 2_000;

/** A room's events between two stream positions, in order: reads only. */
export interface RoomHistoryStorage {
  rooms: Pick<RoomStore, 'roomEvents'>;
}

export class RoomHistory {
  constructor(
    private readonly storage: RoomHistoryStorage,
    private readonly visibleTo: VisibilityCheck,
    /** Answers the ranges it holds whole, without a query. */
    private readonly recent: RecentEvents,
    private readonly hiddenSenders: HiddenSenders = async () => new Set(),
  ) {}

  /** The newest `limit` events of the range that pass; `resumeAt` says whether older ones remain. */
  async newest(read: HistoryRead): Promise<HistoryPage> {
    return this.collect(read, 'newest-first');
  }

  /** The oldest `limit` events of the range that pass; `resumeAt` says whether newer ones remain. */
  async oldest(read: HistoryRead): Promise<HistoryPage> {
    return this.collect(read, 'oldest-first');
  }

  /** The senders the user ignores (whose invites, too, are not shown). */
  ignoredBy(userId: string): Promise<ReadonlySet<string>> {
    return this.hiddenSenders(userId);
  }

  /** Whether the user may see this one event. */
  async isVisible(userId: string, event: EventRecord): Promise<boolean> {
    return (await this.visibleTo(userId, event.roomId, [event])).length === 1;
  }

  private async collect(
    read: HistoryRead,
    order: 'newest-first' | 'oldest-first',
  ): Promise<HistoryPage> {
    const kept: EventRecord[] = [];
    let { after, upTo } = read;
    let scanned = 0;
    while (after < upTo && kept.length < read.limit) {
      // The first page asks for one more than needed (to tell whether more remain); later
      // pages, needed only when filtering dropped events, read further ahead.
      const wanted = read.limit - kept.length;
      const pageSize = scanned === 0 ? wanted + 1 : wanted + PAGE_SLACK;
      const page =
        this.recent.range(read.roomId, after, upTo, pageSize, order) ??
        (await this.storage.rooms.roomEvents({
          roomId: read.roomId,
          after,
          upTo,
          limit: pageSize,
          order,
        }));
      if (page.length === 0) return { events: oldestFirst(kept, order), resumeAt: undefined };
      const passing = await this.passing(read, page, order);
      const room = read.limit - kept.length;
      const taken = passing.slice(0, room);
      kept.push(...taken);
      // Resume just past the last event taken, or past the page when all of it was looked at.
      const boundary =
        taken.length === room && passing.length > room ? taken.at(-1)! : page.at(-1)!;
      if (order === 'newest-first') upTo = boundary.streamOrdering - 1;
      else after = boundary.streamOrdering;
      scanned += page.length;
      if (page.length < pageSize && boundary === page.at(-1)) {
        return { events: oldestFirst(kept, order), resumeAt: undefined };
      }
      if (scanned >= MAX_SCANNED) break;
    }
    const resumeAt = after < upTo ? (order === 'newest-first' ? upTo : after) : undefined;
    return { events: oldestFirst(kept, order), resumeAt };
  }

  /** The page's events that pass the filter and history visibility, in the page's order. */
  private async passing(
    read: HistoryRead,
    page: EventRecord[],
    order: 'newest-first' | 'oldest-first',
  ): Promise<EventRecord[]> {
    const chronological = order === 'newest-first' ? [...page].reverse() : page;
    const visible = withoutIgnored(
      read.allVisible
        ? chronological
        : await this.visibleTo(read.userId, read.roomId, chronological),
      await this.hiddenSenders(read.userId),
    );
    const filter = read.filter;
    const matching = filter
      ? visible.filter((e) => eventMatchesFilter(e.pdu, filter, read.roomId))
      : visible;
    return order === 'newest-first' ? matching.reverse() : matching;
  }
}

/**
 * The spec's ignoring of users: their events are not sent, except state events
 * (the room's state must stay whole for the client).
 */
function withoutIgnored(events: EventRecord[], ignored: ReadonlySet<string>): EventRecord[] {
  if (ignored.size === 0) return events;
  return events.filter((e) => e.pdu.state_key !== undefined || !ignored.has(e.pdu.sender));
}

function oldestFirst(events: EventRecord[], order: 'newest-first' | 'oldest-first') {
  return order === 'newest-first' ? events.reverse() : events;
}
