/**
 * Push rule evaluation, pure: which rule of a user's ruleset matches an event, and what its
 * actions mean (client-server API, "Push Rules", "Conditions", "Actions").
 */
import type { JsonValue } from '../events/pdu.js';
import type {
  PushAction,
  PushCondition,
  PushRule,
  PushRuleset,
  RuleKind,
} from '../domain/push-rules.js';
import { RULE_KINDS } from '../domain/push-rules.js';
import { LEGACY_MENTION_RULE_IDS } from './default-rules.js';

/** The event as the rules see it: its client-format fields (`type`, `content`, `sender`, ...). */
export type PushEvent = Readonly<Record<string, unknown>> & {
  type: string;
  sender: string;
  content: Readonly<Record<string, unknown>>;
};

/** What the conditions need to know besides the event, for the user whose rules are evaluated. */
export interface PushContext {
  userId: string;
  /** The user's display name in the room (`contains_display_name`); absent or empty never matches. */
  displayName?: string | null;
  /** Joined members of the room (`room_member_count`). */
  roomMemberCount: number;
  /** The sender's power level in the room (`sender_notification_permission`). */
  senderPowerLevel: number;
  /** `content.notifications` of the room's `m.room.power_levels`; `room` defaults to 50. */
  notificationPowerLevels?: Readonly<Record<string, number>>;
}

export interface RuleMatch {
  kind: RuleKind;
  ruleId: string;
  actions: PushAction[];
}

// ---------------------------------------------------------------------------------------------
// Dot-separated property paths (appendices: a `.` or `\` inside a key is escaped with `\`;
// any other backslash stands for itself)

export function splitPropertyPath(path: string): string[] {
  const segments: string[] = [];
  let current = '';
  for (let i = 0; i < path.length; i++) {
    const char = path[i];
    const next = path[i + 1];
    if (char === '\\' && (next === '.' || next === '\\')) {
      current += next;
      i++;
    } else if (char === '.') {
      segments.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  segments.push(current);
  return segments;
}

/** The value at a dotted path; only objects are walked into (arrays are not indexed). */
export function propertyAt(event: PushEvent, path: string): unknown {
  return valueAtPath(event, splitPropertyPath(path));
}

/** `propertyAt` with the path already split (compiled rules split it once). */
export function valueAtPath(event: PushEvent, segments: readonly string[]): unknown {
  let value: unknown = event;
  for (const segment of segments) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    if (!Object.hasOwn(value, segment)) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Globs (appendices, "Glob-style matching": `*` any run of characters, `?` exactly one)

const WORD_CHAR = '[A-Za-z0-9_]';
const regexCache = new Map<string, RegExp>();
const REGEX_CACHE_LIMIT = 10_000;

/** Escapes what is a syntax character in a `u`-mode regular expression. */
function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

function globToRegexSource(glob: string): string {
  let source = '';
  for (const char of glob) {
    if (char === '*') source += '.*';
    else if (char === '?') source += '.';
    else source += escapeRegex(char);
  }
  return source;
}

function cachedRegex(cacheKey: string, build: () => string): RegExp {
  let regex = regexCache.get(cacheKey);
  if (!regex) {
    if (regexCache.size >= REGEX_CACHE_LIMIT) regexCache.clear();
    // `u`: `?` is one code point; `s`: `*` spans newlines; `i`: case-insensitive (the spec leaves
    // the meaning of case-insensitive to the server: Unicode simple case folding here).
    regex = new RegExp(build(), 'isu');
    regexCache.set(cacheKey, regex);
  }
  return regex;
}

/** The regular expression `globMatches` tests with. */
export function wholeGlobRegex(glob: string): RegExp {
  return cachedRegex(`whole:${glob}`, () => `^${globToRegexSource(glob)}$`);
}

/** The whole value must match (`event_match`). */
export function globMatches(glob: string, value: string): boolean {
  return wholeGlobRegex(glob).test(value);
}

/** The regular expression `globMatchesWords` tests with. */
export function wordsGlobRegex(glob: string): RegExp {
  const source = () => `(?<!${WORD_CHAR})${globToRegexSource(glob)}(?!${WORD_CHAR})`;
  return cachedRegex(`words:${glob}`, source);
}

/**
 * Some substring starting and ending at word boundaries must match (`content.body` and content
 * rules): a boundary is the start or end of the value or a character outside [A-Za-z0-9_].
 */
export function globMatchesWords(glob: string, value: string): boolean {
  return wordsGlobRegex(glob).test(value);
}

/** The display name, literally, on word boundaries (`contains_display_name`). */
export function displayNameRegex(name: string): RegExp {
  const source = () => `(?<!${WORD_CHAR})${escapeRegex(name)}(?!${WORD_CHAR})`;
  return cachedRegex(`name:${name}`, source);
}

// ---------------------------------------------------------------------------------------------
// Conditions

/** `content.body` is matched on word boundaries, every other key as a whole. */
export const WORDS_MATCHED_KEY = 'content.body';

function eventMatch(condition: PushCondition, event: PushEvent): boolean {
  if (condition.key === undefined || condition.pattern === undefined) return false;
  const value = propertyAt(event, condition.key);
  // Absent or non-string properties never match, not even `*`.
  if (typeof value !== 'string') return false;
  if (condition.key === WORDS_MATCHED_KEY) return globMatchesWords(condition.pattern, value);
  return globMatches(condition.pattern, value);
}

/** Strings, integers in the canonical JSON range, booleans and null: the comparable values. */
export function isNonCompound(value: unknown): value is string | number | boolean | null {
  return (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isSafeInteger(value))
  );
}

function eventPropertyIs(condition: PushCondition, event: PushEvent): boolean {
  if (condition.key === undefined || !isNonCompound(condition.value)) return false;
  const value = propertyAt(event, condition.key);
  return isNonCompound(value) && value === condition.value;
}

function eventPropertyContains(condition: PushCondition, event: PushEvent): boolean {
  if (condition.key === undefined || !isNonCompound(condition.value)) return false;
  const value = propertyAt(event, condition.key);
  if (!Array.isArray(value)) return false;
  return value.some((item) => isNonCompound(item) && item === condition.value);
}

/** The user's display name in `content.body`, on word boundaries, case-insensitively. */
function containsDisplayName(event: PushEvent, context: PushContext): boolean {
  const name = context.displayName;
  const body = event.content.body;
  if (!name || typeof body !== 'string') return false;
  return displayNameRegex(name).test(body);
}

const MEMBER_COUNT = /^(==|<=|>=|<|>)?([0-9]+)$/;

/** `is`: a decimal integer, optionally prefixed by `==`, `<`, `>`, `<=` or `>=` (default `==`). */
export function memberCountMatches(is: string, count: number): boolean {
  const parsed = MEMBER_COUNT.exec(is);
  if (!parsed) return false;
  const bound = Number(parsed[2]);
  switch (parsed[1] ?? '==') {
    case '<':
      return count < bound;
    case '>':
      return count > bound;
    case '<=':
      return count <= bound;
    case '>=':
      return count >= bound;
    default:
      return count === bound;
  }
}

/** m.room.power_levels: `notifications.room` defaults to 50. */
const DEFAULT_NOTIFICATION_LEVELS: Readonly<Record<string, number>> = { room: 50 };

/** Whether the sender has the power level `notifications[key]` asks for. */
export function senderMayNotify(
  key: string,
  context: Pick<PushContext, 'senderPowerLevel' | 'notificationPowerLevels'>,
): boolean {
  const levels = { ...DEFAULT_NOTIFICATION_LEVELS, ...context.notificationPowerLevels };
  if (!Object.hasOwn(levels, key)) return false;
  const required = levels[key];
  return typeof required === 'number' && context.senderPowerLevel >= required;
}

function senderNotificationPermission(condition: PushCondition, context: PushContext): boolean {
  return condition.key !== undefined && senderMayNotify(condition.key, context);
}

export function conditionMatches(
  condition: PushCondition,
  event: PushEvent,
  context: PushContext,
): boolean {
  switch (condition.kind) {
    case 'event_match':
      return eventMatch(condition, event);
    case 'event_property_is':
      return eventPropertyIs(condition, event);
    case 'event_property_contains':
      return eventPropertyContains(condition, event);
    case 'contains_display_name':
      return containsDisplayName(event, context);
    case 'room_member_count':
      return (
        typeof condition.is === 'string' &&
        memberCountMatches(condition.is, context.roomMemberCount)
      );
    case 'sender_notification_permission':
      return senderNotificationPermission(condition, context);
    default:
      // "Unrecognised conditions MUST NOT match any events".
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Rules

/** Whether the event says whom it mentions (v1.7's `m.mentions`, even if empty). */
export function hasMentions(event: PushEvent): boolean {
  return Object.hasOwn(event.content, 'm.mentions');
}

/** Content, room and sender rules have predefined conditions derived from the rule itself. */
function ruleMatches(
  kind: RuleKind,
  rule: PushRule,
  event: PushEvent,
  context: PushContext,
): boolean {
  // v1.7: the legacy mention rules "should only be enabled if the event does not have an
  // m.mentions property".
  if (rule.default && LEGACY_MENTION_RULE_IDS.has(rule.rule_id) && hasMentions(event)) return false;
  switch (kind) {
    case 'content': {
      const body = event.content.body;
      return (
        typeof rule.pattern === 'string' &&
        typeof body === 'string' &&
        globMatchesWords(rule.pattern, body)
      );
    }
    case 'room':
      return event.room_id === rule.rule_id;
    case 'sender':
      return event.sender === rule.rule_id;
    default:
      // A rule with no conditions always matches.
      return (rule.conditions ?? []).every((condition) =>
        conditionMatches(condition, event, context),
      );
  }
}

/**
 * The first enabled rule that matches, in the order override, content, room, sender, underride
 * and within a kind in the ruleset's order; undefined when none does (then nothing notifies).
 * Whether the user sent the event themselves is the caller's check ("Homeservers MUST NOT notify
 * the Push Gateway for events that the user has sent themselves").
 */
export function evaluate(
  event: PushEvent,
  context: PushContext,
  rules: PushRuleset,
): RuleMatch | undefined {
  for (const kind of RULE_KINDS) {
    for (const rule of rules[kind]) {
      if (rule.enabled && ruleMatches(kind, rule, event, context)) {
        return { kind, ruleId: rule.rule_id, actions: rule.actions };
      }
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Actions

export interface NotificationEffect {
  notify: boolean;
  /** Only a notifying event highlights. */
  highlight: boolean;
  /** The `sound` tweak, when it is a string. */
  sound?: string;
  /** Every tweak as the push gateway receives it (`highlight` without value is `true`). */
  tweaks: Record<string, JsonValue>;
}

function tweaksOf(actions: readonly PushAction[]): Record<string, JsonValue> {
  const tweaks: Record<string, JsonValue> = {};
  for (const action of actions) {
    if (typeof action === 'string') continue;
    // "If a highlight tweak is given with no value, its value is defined to be true."
    const value = action.value ?? (action.set_tweak === 'highlight' ? true : undefined);
    if (value !== undefined) tweaks[action.set_tweak] = value;
  }
  return tweaks;
}

/** What a rule's actions mean for the user: counted, highlighted, which sound. */
export function notificationEffect(actions: readonly PushAction[]): NotificationEffect {
  const notify = actions.includes('notify');
  const tweaks = tweaksOf(actions);
  // "If no highlight tweak is given at all then the value of highlight is defined to be false."
  const effect: NotificationEffect = {
    notify,
    highlight: notify && tweaks.highlight === true,
    tweaks,
  };
  if (typeof tweaks.sound === 'string') effect.sound = tweaks.sound;
  return effect;
}
