/**
 * Push rules compiled for the write path, pure: the same answers as `evaluate`
 * (evaluator.ts), at a fraction of the cost per member.
 *
 * - Compiled once per ruleset: disabled rules dropped, paths split, globs turned
 *   into regular expressions, each rule's actions read once into its effect.
 * - Shared between users: a condition naming the user's own ID (the invite and
 *   mention rules) is compiled as "the member's ID", so every user with the same
 *   rules up to their own ID (all users who never changed a default, for one)
 *   shares one compiled ruleset, found by `rulesetKey`.
 * - Bound once per event: `bind` decides every condition that does not depend
 *   on the member; what is left per member is a short list of candidate rules
 *   with member tests (the user's ID, display name) and the rule that matches
 *   when no candidate does.
 */
import { LEGACY_MENTION_RULE_IDS } from './default-rules.js';
import {
  displayNameRegex,
  hasMentions,
  isNonCompound,
  memberCountMatches,
  senderMayNotify,
  splitPropertyPath,
  valueAtPath,
  wholeGlobRegex,
  WORDS_MATCHED_KEY,
  wordsGlobRegex,
  notificationEffect,
  type NotificationEffect,
  type PushContext,
  type PushEvent,
  type RuleMatch,
} from './evaluator.js';
import {
  RULE_KINDS,
  type PushCondition,
  type PushRule,
  type PushRuleset,
  type RuleKind,
} from '../domain/push-rules.js';

/** What conditions know of the room at the event, the same for every member. */
export type RoomContext = Pick<
  PushContext,
  'roomMemberCount' | 'senderPowerLevel' | 'notificationPowerLevels'
>;

/** What conditions know of the member whose rules are evaluated. */
export type MemberContext = Pick<PushContext, 'userId' | 'displayName'>;

/** A rule's outcome, its effect read once from its actions. */
export interface CompiledMatch extends RuleMatch {
  effect: NotificationEffect;
}

type MemberTest = (member: MemberContext) => boolean;

/** A condition once the event and room are known: decided, or left to a member test. */
type BoundCondition = boolean | MemberTest;

type CompiledCondition = (event: PushEvent, room: RoomContext) => BoundCondition;

interface CompiledRule {
  match: CompiledMatch;
  conditions: CompiledCondition[];
}

export interface CompiledRuleset {
  /** Enabled rules in evaluation order. */
  rules: CompiledRule[];
}

/** A rule for one event whose outcome depends on the member. */
interface Candidate {
  tests: MemberTest[];
  match: CompiledMatch;
}

/** A compiled ruleset for one event: what is left to decide per member. */
export interface BoundRuleset {
  candidates: Candidate[];
  /** The first rule every member matches (after the candidates); none: nothing notifies. */
  fallback: CompiledMatch | undefined;
}

// ---------------------------------------------------------------------------------------------
// Keys: rulesets equal up to the user's own ID share one compilation

/** `pattern` and `value` naming the user become a marker no stored value can equal. */
function userNeutral(condition: PushCondition, userId: string) {
  const mark = (field: unknown) => (field === userId ? { user: true } : { is: field });
  return { ...condition, pattern: mark(condition.pattern), value: mark(condition.value) };
}

/** Equal keys: rulesets that evaluate alike for their own users (compile either one). */
export function rulesetKey(rules: PushRuleset, userId: string): string {
  const localpart = localpartOf(userId);
  const neutral = RULE_KINDS.map((kind) =>
    rules[kind].map((rule) => ({
      ...rule,
      // The legacy `.m.rule.contains_user_name` names the user by localpart.
      pattern: isOwnLocalpartRule(kind, rule, localpart) ? { localpart: true } : rule.pattern,
      conditions: rule.conditions?.map((condition) => userNeutral(condition, userId)),
    })),
  );
  return JSON.stringify(neutral);
}

function localpartOf(userId: string): string {
  return userId.slice(1, userId.indexOf(':'));
}

function isOwnLocalpartRule(kind: RuleKind, rule: PushRule, localpart: string): boolean {
  return kind === 'content' && rule.default && rule.pattern === localpart;
}

// ---------------------------------------------------------------------------------------------
// Conditions

const NEVER: CompiledCondition = () => false;

function eventMatch(condition: PushCondition, userId: string): CompiledCondition {
  const { key, pattern } = condition;
  if (key === undefined || pattern === undefined) return NEVER;
  const path = splitPropertyPath(key);
  const words = key === WORDS_MATCHED_KEY;
  if (pattern === userId) {
    // The invite rule: the state key must match the member's own ID as a glob.
    return (event) => {
      const value = valueAtPath(event, path);
      if (typeof value !== 'string') return false;
      return (member) =>
        (words ? wordsGlobRegex(member.userId) : wholeGlobRegex(member.userId)).test(value);
    };
  }
  const regex = words ? wordsGlobRegex(pattern) : wholeGlobRegex(pattern);
  return (event) => {
    const value = valueAtPath(event, path);
    // Absent or non-string properties never match, not even `*`.
    return typeof value === 'string' && regex.test(value);
  };
}

function eventPropertyIs(condition: PushCondition, userId: string): CompiledCondition {
  const { key, value: wanted } = condition;
  if (key === undefined || !isNonCompound(wanted)) return NEVER;
  const path = splitPropertyPath(key);
  if (wanted === userId) {
    return (event) => {
      const value = valueAtPath(event, path);
      return typeof value === 'string' && ((member) => member.userId === value);
    };
  }
  return (event) => {
    const value = valueAtPath(event, path);
    return isNonCompound(value) && value === wanted;
  };
}

function eventPropertyContains(condition: PushCondition, userId: string): CompiledCondition {
  const { key, value: wanted } = condition;
  if (key === undefined || !isNonCompound(wanted)) return NEVER;
  const path = splitPropertyPath(key);
  if (wanted === userId) {
    // The mention rule: m.mentions.user_ids must hold the member's own ID.
    return (event) => {
      const value = valueAtPath(event, path);
      return Array.isArray(value) && ((member) => value.includes(member.userId));
    };
  }
  return (event) => {
    const value = valueAtPath(event, path);
    return Array.isArray(value) && value.some((item) => isNonCompound(item) && item === wanted);
  };
}

const containsDisplayName: CompiledCondition = (event) => {
  const body = event.content.body;
  if (typeof body !== 'string') return false;
  return (member) => !!member.displayName && displayNameRegex(member.displayName).test(body);
};

function roomMemberCount(condition: PushCondition): CompiledCondition {
  const { is } = condition;
  if (typeof is !== 'string') return NEVER;
  return (_event, room) => memberCountMatches(is, room.roomMemberCount);
}

function senderNotificationPermission(condition: PushCondition): CompiledCondition {
  const { key } = condition;
  if (key === undefined) return NEVER;
  return (_event, room) => senderMayNotify(key, room);
}

function compileCondition(condition: PushCondition, userId: string): CompiledCondition {
  switch (condition.kind) {
    case 'event_match':
      return eventMatch(condition, userId);
    case 'event_property_is':
      return eventPropertyIs(condition, userId);
    case 'event_property_contains':
      return eventPropertyContains(condition, userId);
    case 'contains_display_name':
      return containsDisplayName;
    case 'room_member_count':
      return roomMemberCount(condition);
    case 'sender_notification_permission':
      return senderNotificationPermission(condition);
    default:
      // "Unrecognised conditions MUST NOT match any events".
      return NEVER;
  }
}

// ---------------------------------------------------------------------------------------------
// Rules

/** The member's localpart on word boundaries, each member's expression made once. */
const localpartRegexes = new Map<string, RegExp>();
const MAX_LOCALPART_REGEXES = 10_000;

function memberLocalpartRegex(userId: string): RegExp {
  let regex = localpartRegexes.get(userId);
  if (!regex) {
    if (localpartRegexes.size >= MAX_LOCALPART_REGEXES) localpartRegexes.clear();
    regex = wordsGlobRegex(localpartOf(userId));
    localpartRegexes.set(userId, regex);
  }
  return regex;
}

/** Content, room and sender rules: their one condition derives from the rule itself. */
function impliedCondition(kind: RuleKind, rule: PushRule, userId: string): CompiledCondition {
  switch (kind) {
    case 'content': {
      if (typeof rule.pattern !== 'string') return NEVER;
      if (isOwnLocalpartRule(kind, rule, localpartOf(userId))) {
        // Shared like the rules naming the user's ID: "the member's localpart".
        return (event) => {
          const body = event.content.body;
          return (
            typeof body === 'string' && ((member) => memberLocalpartRegex(member.userId).test(body))
          );
        };
      }
      const regex = wordsGlobRegex(rule.pattern);
      return (event) => typeof event.content.body === 'string' && regex.test(event.content.body);
    }
    case 'room':
      return (event) => event.room_id === rule.rule_id;
    default:
      return (event) => event.sender === rule.rule_id;
  }
}

/** v1.7: the legacy mention rules apply only to events without `m.mentions`. */
const WITHOUT_MENTIONS: CompiledCondition = (event) => !hasMentions(event);

function compileRule(kind: RuleKind, rule: PushRule, userId: string): CompiledRule {
  const { rule_id: ruleId, actions } = rule;
  const conditions =
    kind === 'override' || kind === 'underride'
      ? (rule.conditions ?? []).map((condition) => compileCondition(condition, userId))
      : [impliedCondition(kind, rule, userId)];
  if (rule.default && LEGACY_MENTION_RULE_IDS.has(ruleId)) conditions.unshift(WITHOUT_MENTIONS);
  return { match: { kind, ruleId, actions, effect: notificationEffect(actions) }, conditions };
}

/** `userId`: whose rules these are; conditions naming them are compiled to name any member. */
export function compileRuleset(rules: PushRuleset, userId: string): CompiledRuleset {
  const compiled: CompiledRule[] = [];
  for (const kind of RULE_KINDS) {
    for (const rule of rules[kind]) {
      if (rule.enabled) compiled.push(compileRule(kind, rule, userId));
    }
  }
  return { rules: compiled };
}

/** The member tests a rule needs for this event, or undefined when it cannot match. */
function bindRule(rule: CompiledRule, event: PushEvent, room: RoomContext) {
  const tests: MemberTest[] = [];
  for (const condition of rule.conditions) {
    const bound = condition(event, room);
    if (bound === false) return undefined;
    if (bound !== true) tests.push(bound);
  }
  return tests;
}

/** Decides what it can for the event once, for every member sharing the ruleset. */
export function bindRuleset(
  ruleset: CompiledRuleset,
  event: PushEvent,
  room: RoomContext,
): BoundRuleset {
  const candidates: Candidate[] = [];
  for (const rule of ruleset.rules) {
    const tests = bindRule(rule, event, room);
    if (!tests) continue;
    if (tests.length === 0) return { candidates, fallback: rule.match };
    candidates.push({ tests, match: rule.match });
  }
  return { candidates, fallback: undefined };
}

/** The rule that decides for this member: `evaluate`'s answer. */
export function matchFor(bound: BoundRuleset, member: MemberContext): CompiledMatch | undefined {
  for (const candidate of bound.candidates) {
    if (candidate.tests.every((test) => test(member))) return candidate.match;
  }
  return bound.fallback;
}
