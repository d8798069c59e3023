/**
 * A user's push rules: their own rules merged with the server defaults into the
 * order of evaluation, the JSON clients read, validation of a rule sent with
 * `PUT /pushrules/global/{kind}/{ruleId}`, and the pure edits behind the
 * push-rule endpoints (client-server API, "Push Rules" and "Push Rules: API").
 */
import { errors, MatrixError } from '../protocol/errors.js';
import {
  CURRENT_DEFAULT_RULES,
  defaultRules,
  MASTER_RULE_ID,
  type DefaultRuleOptions,
} from './default-rules.js';
import {
  RULE_KINDS,
  type PushAction,
  type PushCondition,
  type PushRule,
  type PushRulesContent,
  type PushRuleset,
  type RuleKind,
  type UserPushRules,
} from '../domain/push-rules.js';

export function emptyUserPushRules(): UserPushRules {
  return {
    custom: { override: [], content: [], room: [], sender: [], underride: [] },
    defaults: {},
  };
}

// ---------------------------------------------------------------------------------------------
// Merging

/** A default rule with the user's enabled flag and actions applied. */
function withUserChange(rule: PushRule, userRules: UserPushRules): PushRule {
  const change = userRules.defaults[rule.rule_id];
  if (!change) return rule;
  return {
    ...rule,
    enabled: change.enabled ?? rule.enabled,
    actions: change.actions ?? rule.actions,
  };
}

/**
 * The ruleset in evaluation order. "Predefined Rules": server-default rules rank below the
 * user's rules of the same kind, except `.m.rule.master`, which outranks every other rule.
 */
export function mergedRuleset(
  userId: string,
  userRules: UserPushRules,
  options: DefaultRuleOptions = CURRENT_DEFAULT_RULES,
): PushRuleset {
  const defaults = defaultRules(userId, options);
  const merged = {} as PushRuleset;
  for (const kind of RULE_KINDS) {
    const serverRules = defaults[kind].map((rule) => withUserChange(rule, userRules));
    const master = serverRules.filter((rule) => rule.rule_id === MASTER_RULE_ID);
    const others = serverRules.filter((rule) => rule.rule_id !== MASTER_RULE_ID);
    merged[kind] = [...master, ...userRules.custom[kind], ...others];
  }
  return merged;
}

/** The body of `GET /pushrules/` and the content of `m.push_rules` global account data. */
export function pushRulesContent(
  userId: string,
  userRules: UserPushRules,
  options: DefaultRuleOptions = CURRENT_DEFAULT_RULES,
): PushRulesContent {
  return { global: mergedRuleset(userId, userRules, options) };
}

// ---------------------------------------------------------------------------------------------
// Validation of what clients send

export function parseRuleKind(kind: string): RuleKind {
  if (!(RULE_KINDS as readonly string[]).includes(kind)) {
    throw errors.invalidParam(`Unknown push rule kind: ${kind}`);
  }
  return kind as RuleKind;
}

/**
 * A rule ID a user may create. Server-default IDs start with "." ("Predefined Rules"); `/` and
 * `\` would make the rule's URL ambiguous. Room and sender rules are named after their room or
 * user ("Push Rules": the `rule_id` of a room rule is always the room's ID, of a sender rule the
 * user's ID).
 */
export function validateUserRuleId(kind: RuleKind, ruleId: string): void {
  if (ruleId === '') throw errors.invalidParam('rule_id must not be empty');
  if (ruleId.startsWith('.')) {
    throw errors.invalidParam('rule_id may not start with "." (reserved for server-default rules)');
  }
  if (ruleId.includes('/') || ruleId.includes('\\')) {
    throw errors.invalidParam('rule_id may not contain "/" or "\\"');
  }
  if (kind === 'room' && !ruleId.startsWith('!')) {
    throw errors.invalidParam('The rule_id of a room rule must be a room ID');
  }
  if (kind === 'sender' && !ruleId.startsWith('@')) {
    throw errors.invalidParam('The rule_id of a sender rule must be a user ID');
  }
}

const LEGACY_ACTIONS = new Set(['dont_notify', 'coalesce']);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseAction(action: unknown): PushAction | undefined {
  if (action === 'notify') return 'notify';
  if (typeof action === 'string' && LEGACY_ACTIONS.has(action)) return undefined;
  if (isPlainObject(action) && typeof action.set_tweak === 'string') {
    // Tweaks are passed through transparently ("Actions"), so any tweak name is kept.
    return structuredClone(action) as unknown as PushAction;
  }
  throw errors.invalidParam(`Unrecognised push rule action: ${JSON.stringify(action)}`);
}

/**
 * The actions of a rule, normalised: "Historical Actions" says `dont_notify` and `coalesce` MUST
 * be ignored, so `["dont_notify"]` is the same as `[]`. Unknown actions are refused.
 */
export function normaliseActions(actions: unknown): PushAction[] {
  if (actions === undefined || actions === null) throw errors.missingParam('actions');
  if (!Array.isArray(actions)) throw errors.badJson('actions must be an array');
  return actions.map(parseAction).filter((action) => action !== undefined);
}

function isNonCompoundValue(value: unknown): boolean {
  return (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (Number.isSafeInteger(value) && typeof value === 'number')
  );
}

/** The parameters each recognised condition kind requires ("Conditions"; push_condition.yaml). */
const CONDITION_PARAMS: Record<string, Array<'key' | 'pattern' | 'is'>> = {
  event_match: ['key', 'pattern'],
  event_property_is: ['key'],
  event_property_contains: ['key'],
  contains_display_name: [],
  room_member_count: ['is'],
  sender_notification_permission: ['key'],
};

function parseCondition(condition: unknown, index: number): PushCondition {
  const where = `conditions[${index}]`;
  if (!isPlainObject(condition)) throw errors.badJson(`${where} must be an object`);
  if (typeof condition.kind !== 'string') throw errors.missingParam(`${where}.kind`);
  for (const param of CONDITION_PARAMS[condition.kind] ?? []) {
    if (condition[param] === undefined) throw errors.missingParam(`${where}.${param}`);
    if (typeof condition[param] !== 'string')
      throw errors.badJson(`${where}.${param} must be a string`);
  }
  if (condition.kind === 'event_property_is' || condition.kind === 'event_property_contains') {
    if (!('value' in condition)) throw errors.missingParam(`${where}.value`);
    if (!isNonCompoundValue(condition.value)) {
      throw errors.badJson(`${where}.value must be a string, integer, boolean or null`);
    }
  }
  // An unrecognised kind is kept as sent: it never matches ("Conditions").
  return structuredClone(condition) as unknown as PushCondition;
}

function parseConditions(conditions: unknown): PushCondition[] {
  if (conditions === undefined || conditions === null) throw errors.missingParam('conditions');
  if (!Array.isArray(conditions)) throw errors.badJson('conditions must be an array');
  return conditions.map(parseCondition);
}

function parsePattern(pattern: unknown): string {
  if (pattern === undefined || pattern === null) throw errors.missingParam('pattern');
  if (typeof pattern !== 'string') throw errors.badJson('pattern must be a string');
  return pattern;
}

/**
 * The rule a `PUT /pushrules/global/{kind}/{ruleId}` body describes. Each kind takes its own
 * fields (push_rule.yaml): `conditions` for override and underride, `pattern` for content,
 * nothing but `actions` for room and sender rules (their rule ID is their condition).
 */
export function parseUserRule(kind: RuleKind, ruleId: string, body: unknown): PushRule {
  validateUserRuleId(kind, ruleId);
  if (!isPlainObject(body)) throw errors.badJson('Request body must be a JSON object');
  const rule: PushRule = {
    rule_id: ruleId,
    default: false,
    enabled: true,
    actions: normaliseActions(body.actions),
  };
  if (kind === 'override' || kind === 'underride')
    rule.conditions = parseConditions(body.conditions);
  if (kind === 'content') rule.pattern = parsePattern(body.pattern);
  return rule;
}

// ---------------------------------------------------------------------------------------------
// Edits behind the endpoints; each returns a new UserPushRules and leaves its input untouched

function notFound(): MatrixError {
  return errors.notFound('Push rule not found');
}

function isDefaultRuleId(
  userId: string,
  kind: RuleKind,
  ruleId: string,
  options: DefaultRuleOptions,
): boolean {
  return defaultRules(userId, options)[kind].some((rule) => rule.rule_id === ruleId);
}

/** One rule as clients see it (`GET /pushrules/global/{kind}/{ruleId}`), or 404 M_NOT_FOUND. */
export function findRule(
  userId: string,
  userRules: UserPushRules,
  kind: RuleKind,
  ruleId: string,
  options: DefaultRuleOptions = CURRENT_DEFAULT_RULES,
): PushRule {
  const rule = mergedRuleset(userId, userRules, options)[kind].find((r) => r.rule_id === ruleId);
  if (!rule) throw notFound();
  return rule;
}

export interface RulePosition {
  before?: string;
  after?: string;
}

/** The index `before`/`after` point at among the user's rules; server-default or unknown → 400. */
function anchorIndex(rules: PushRule[], anchorId: string): number {
  const index = rules.findIndex((rule) => rule.rule_id === anchorId);
  // The spec's example error for this case is M_UNKNOWN ("before/after rule not found").
  if (index < 0) throw errors.unknown(`before/after rule not found: ${anchorId}`);
  return index;
}

function insertionIndex(rules: PushRule[], position: RulePosition): number {
  const beforeIndex = position.before === undefined ? -1 : anchorIndex(rules, position.before);
  const afterIndex = position.after === undefined ? -1 : anchorIndex(rules, position.after);
  // With both, the rule goes right before `before` (pushrules.yaml: "the next most important
  // rule with respect to the rule identified by before").
  if (position.before !== undefined) return beforeIndex;
  if (position.after !== undefined) return afterIndex + 1;
  // A new rule without a position becomes the most important of its kind.
  return 0;
}

/**
 * Creates or replaces a user rule. An updated rule keeps its enabled flag, and its place unless
 * `before`/`after` move it.
 */
export function upsertUserRule(
  userRules: UserPushRules,
  kind: RuleKind,
  rule: PushRule,
  position: RulePosition = {},
): UserPushRules {
  const existing = userRules.custom[kind].find((r) => r.rule_id === rule.rule_id);
  const updated = { ...rule, enabled: existing?.enabled ?? rule.enabled };
  const others = userRules.custom[kind].filter((r) => r.rule_id !== rule.rule_id);
  const moves = position.before !== undefined || position.after !== undefined;
  const index =
    existing && !moves
      ? userRules.custom[kind].indexOf(existing)
      : insertionIndex(others, position);
  const rules = [...others.slice(0, index), updated, ...others.slice(index)];
  return { ...userRules, custom: { ...userRules.custom, [kind]: rules } };
}

/** Deletes a user rule; server-default and unknown rules → 404 M_NOT_FOUND (issue 6). */
export function deleteUserRule(
  userRules: UserPushRules,
  kind: RuleKind,
  ruleId: string,
): UserPushRules {
  const rules = userRules.custom[kind];
  if (!rules.some((rule) => rule.rule_id === ruleId)) throw notFound();
  const remaining = rules.filter((rule) => rule.rule_id !== ruleId);
  return { ...userRules, custom: { ...userRules.custom, [kind]: remaining } };
}

function changeRule(
  userId: string,
  userRules: UserPushRules,
  kind: RuleKind,
  ruleId: string,
  change: Partial<Pick<PushRule, 'enabled' | 'actions'>>,
  options: DefaultRuleOptions,
): UserPushRules {
  if (isDefaultRuleId(userId, kind, ruleId, options)) {
    const defaults = {
      ...userRules.defaults,
      [ruleId]: { ...userRules.defaults[ruleId], ...change },
    };
    return { ...userRules, defaults };
  }
  if (!userRules.custom[kind].some((rule) => rule.rule_id === ruleId)) throw notFound();
  const rules = userRules.custom[kind].map((rule) =>
    rule.rule_id === ruleId ? { ...rule, ...change } : rule,
  );
  return { ...userRules, custom: { ...userRules.custom, [kind]: rules } };
}

/** `PUT .../enabled`, for user and server-default rules alike. */
export function setRuleEnabled(
  userId: string,
  userRules: UserPushRules,
  kind: RuleKind,
  ruleId: string,
  enabled: boolean,
  options: DefaultRuleOptions = CURRENT_DEFAULT_RULES,
): UserPushRules {
  return changeRule(userId, userRules, kind, ruleId, { enabled }, options);
}

/** `PUT .../actions` (body `{actions}`, normalised here), for user and server-default rules alike. */
export function setRuleActions(
  userId: string,
  userRules: UserPushRules,
  kind: RuleKind,
  ruleId: string,
  actions: unknown,
  options: DefaultRuleOptions = CURRENT_DEFAULT_RULES,
): UserPushRules {
  const change = { actions: normaliseActions(actions) };
  return changeRule(userId, userRules, kind, ruleId, change, options);
}
