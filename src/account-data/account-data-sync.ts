/**
 * The accountData stream of /sync: global account data at the top level, room
 * account data in each joined room's section. An incremental sync gets what
 * changed in (since, upper]; an initial or full-state sync, and a room joined
 * since, get the current data whole.
 *
 * `m.push_rules` lives in the push rule store: its account data row is only a
 * marker of the change's position, and its content is read from the rules.
 */
import type { PushRuleService } from '../push/push-rule-service.js';
import type { AccountDataRecord } from '../storage/storage.js';
import { eventMatchesFilter, filterBlocksEverything, roomMatchesFilter } from '../sync/filters.js';
import type { StreamContext, SyncResponseParts, SyncStreamProvider } from '../sync/sync-streams.js';
import { PUSH_RULES } from './account-data-rules.js';
import type { AccountDataService } from './account-data-service.js';

export class AccountDataSyncProvider implements SyncStreamProvider {
  readonly name = 'accountData';
  readonly stream = 'accountData' as const;
  /** Everything it adds is a change of its stream, or a fresh room's whole data. */
  readonly onlyChangesOfItsStream = true;

  constructor(
    private readonly accountData: AccountDataService,
    private readonly pushRules: PushRuleService,
  ) {}

  currentPosition(): Promise<number> {
    return this.accountData.currentPosition();
  }

  async contribute(context: StreamContext, parts: SyncResponseParts): Promise<boolean> {
    const records = await this.recordsFor(context);
    let added = await this.addGlobal(context, parts, records);
    const joined = new Set(context.joinedRoomIds);
    const roomFilter = context.filter.room;
    for (const record of records) {
      const roomId = record.roomId;
      if (roomId === undefined || !joined.has(roomId)) continue;
      if (!roomMatchesFilter(roomId, roomFilter)) continue;
      const event = { type: record.type, content: record.content };
      if (!eventMatchesFilter(event, roomFilter.accountData, roomId)) continue;
      parts.joinedRoom(roomId).account_data.events.push(event as never);
      added = true;
    }
    return added;
  }

  /** Changes since `since`, plus the whole data of fresh sections. */
  private async recordsFor(context: StreamContext): Promise<AccountDataRecord[]> {
    const { userId } = context.viewer;
    if (!context.since || context.fullState) {
      return this.accountData.whole(userId, context.joinedRoomIds, true);
    }
    const changed = await this.accountData.changes(
      userId,
      context.since.accountData,
      context.upper.accountData,
    );
    const fresh = [...context.freshRoomIds];
    if (fresh.length === 0) return changed;
    const freshSet = context.freshRoomIds;
    const whole = await this.accountData.whole(userId, fresh, false);
    // A fresh room's data comes whole: drop its changes, which `whole` holds too.
    return [...changed.filter((r) => !r.roomId || !freshSet.has(r.roomId)), ...whole];
  }

  private async addGlobal(
    context: StreamContext,
    parts: SyncResponseParts,
    records: AccountDataRecord[],
  ): Promise<boolean> {
    const filter = context.filter.accountData;
    if (filterBlocksEverything(filter)) return false;
    const global = records.filter((r) => r.roomId === undefined);
    const initial = !context.since || context.fullState;
    // Clients learn their push rules from the initial sync, stored or not.
    if (initial && !global.some((r) => r.type === PUSH_RULES)) {
      global.push({ userId: context.viewer.userId, type: PUSH_RULES, content: {}, streamId: 0 });
    }
    const events = [];
    for (const record of global) {
      const content =
        record.type === PUSH_RULES
          ? await this.pushRules.content(context.viewer.userId)
          : record.content;
      const event = { type: record.type, content };
      if (eventMatchesFilter(event, filter)) events.push(event);
    }
    const limited = filter.limit === undefined ? events : events.slice(-filter.limit);
    parts.top.account_data.events.push(...(limited as never[]));
    // The push rules an initial sync always carries are no change for a long-poll.
    return global.some((r) => r.streamId > 0) && limited.length > 0;
  }
}
