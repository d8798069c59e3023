/**
 * A user's push rules, stored: reading the merged ruleset (for the push rule
 * endpoints, and later for `m.push_rules` account data in /sync and the
 * evaluator) and applying the edits of push/ruleset.ts.
 *
 * Edits are read-modify-write of the user's whole rule set, so they run one at
 * a time per user: two concurrent PUTs by one user must both land.
 */
import { CURRENT_DEFAULT_RULES, type DefaultRuleOptions } from './default-rules.js';
import type { ServerEventBus } from '../domain/server-events.js';
import { KeyedLock } from '../util/keyed-lock.js';
import type { PushRuleStore } from '../storage/storage.js';
import {
  deleteUserRule,
  emptyUserPushRules,
  findRule,
  mergedRuleset,
  parseUserRule,
  pushRulesContent,
  setRuleActions,
  setRuleEnabled,
  upsertUserRule,
  type RulePosition,
} from './ruleset.js';
import type {
  PushRule,
  PushRulesContent,
  PushRuleset,
  RuleKind,
  UserPushRules,
} from '../domain/push-rules.js';

/** Told, after commit, that a user's rules changed (sync will send `m.push_rules` again). */

/** Stored rules with every kind present, should a kind ever be added after they were written. */
function complete(stored: UserPushRules | undefined): UserPushRules {
  const empty = emptyUserPushRules();
  if (!stored) return empty;
  return {
    custom: { ...empty.custom, ...stored.custom },
    defaults: { ...stored.defaults },
  };
}

export class PushRuleService {
  private readonly edits = new KeyedLock();

  constructor(
    private readonly store: PushRuleStore,
    /** Told of each user whose rules changed (`pushRulesChanged`). */
    private readonly bus: ServerEventBus,
    /** Awaited after each edit, before its answer: moves the user's m.push_rules account data. */
    private readonly markChanged: (userId: string) => Promise<void>,
    /** The current spec's defaults, or with the legacy mention rules (`push.legacy_mention_rules`). */
    private readonly defaults: DefaultRuleOptions = CURRENT_DEFAULT_RULES,
  ) {}

  /** `{global: …}`: the body of `GET /pushrules/` and the content of `m.push_rules`. */
  async content(userId: string): Promise<PushRulesContent> {
    return pushRulesContent(userId, await this.userRules(userId), this.defaults);
  }

  /** The ruleset in evaluation order (the body of `GET /pushrules/global/`). */
  async ruleset(userId: string): Promise<PushRuleset> {
    return mergedRuleset(userId, await this.userRules(userId), this.defaults);
  }

  /** One rule as clients see it; 404 M_NOT_FOUND if the user has no such rule. */
  async rule(userId: string, kind: RuleKind, ruleId: string): Promise<PushRule> {
    return findRule(userId, await this.userRules(userId), kind, ruleId, this.defaults);
  }

  /** Creates or replaces a user rule from a `PUT` body, placed by `before`/`after`. */
  async putRule(
    userId: string,
    kind: RuleKind,
    ruleId: string,
    body: unknown,
    position: RulePosition,
  ): Promise<void> {
    const rule = parseUserRule(kind, ruleId, body);
    await this.edit(userId, (rules) => upsertUserRule(rules, kind, rule, position));
  }

  async deleteRule(userId: string, kind: RuleKind, ruleId: string): Promise<void> {
    await this.edit(userId, (rules) => deleteUserRule(rules, kind, ruleId));
  }

  async setEnabled(userId: string, kind: RuleKind, ruleId: string, enabled: boolean) {
    await this.edit(userId, (rules) =>
      setRuleEnabled(userId, rules, kind, ruleId, enabled, this.defaults),
    );
  }

  /** `actions` as the client sent them; normalised (and refused if unknown) by ruleset.ts. */
  async setActions(userId: string, kind: RuleKind, ruleId: string, actions: unknown) {
    await this.edit(userId, (rules) =>
      setRuleActions(userId, rules, kind, ruleId, actions, this.defaults),
    );
  }

  private async userRules(userId: string): Promise<UserPushRules> {
    return complete(await this.store.get(userId));
  }

  /** Runs a pure edit on the user's current rules and stores the result; a refusal stores nothing. */
  private async edit(userId: string, change: (rules: UserPushRules) => UserPushRules) {
    await this.edits.run(userId, async () => {
      const updated = change(await this.userRules(userId));
      await this.store.put(userId, updated);
    });
    this.bus.emit('pushRulesChanged', userId);
    await this.markChanged(userId);
  }
}
