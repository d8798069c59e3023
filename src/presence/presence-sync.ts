/**
 * The presence stream of /sync: room-mates' presence changed in (since, upper]
 * (on an initial or full-state sync, those not offline); none when presence is off.
 */
import { eventMatchesFilter, filterBlocksEverything } from '../sync/filters.js';
import type { StreamContext, SyncResponseParts, SyncStreamProvider } from '../sync/sync-streams.js';
import type { PresenceService } from './presence-service.js';

export class PresenceSyncProvider implements SyncStreamProvider {
  readonly name = 'presence';
  readonly stream = 'presence' as const;
  /** Everything it adds is a change of its stream, or a fresh room's whole data. */
  readonly onlyChangesOfItsStream = true;

  constructor(private readonly presence: PresenceService) {}

  currentPosition(): Promise<number> {
    return this.presence.currentPosition();
  }

  async contribute(context: StreamContext, parts: SyncResponseParts): Promise<boolean> {
    const filter = context.filter.presence;
    if (!this.presence.enabled || filterBlocksEverything(filter)) return false;
    const incremental = context.since !== undefined && !context.fullState;
    const after = incremental ? context.since!.presence : 0;
    // An initial or full-state sync tells who is not offline; an incremental one, every change.
    const events = (
      await this.presence.eventsFor(context.viewer.userId, after, context.upper.presence, {
        includeOffline: incremental,
      })
    ).filter((event) => eventMatchesFilter(event, filter));
    const limited = filter.limit === undefined ? events : events.slice(-filter.limit);
    parts.top.presence.events.push(...(limited as never[]));
    return limited.length > 0;
  }
}
