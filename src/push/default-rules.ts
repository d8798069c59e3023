/**
 * The server-default push rules of the current spec ("Predefined Rules" in the
 * client-server API's push module), in the spec's order.
 *
 * Matrix v1.17 removed the legacy mention rules deprecated in v1.7 (MSC4210):
 * `.m.rule.contains_display_name`, `.m.rule.roomnotif` (override) and
 * `.m.rule.contains_user_name` (content). Weft does not serve them; the
 * `m.mentions` rules `.m.rule.is_user_mention` and `.m.rule.is_room_mention`
 * replace them. There are therefore no default content rules. A server with many
 * clients older than v1.7 (which send no `m.mentions`) may restore them with
 * `push.legacy_mention_rules` (docs/spec-versions.md): they then take the places
 * v1.16 gave them, and, as v1.7 says, match only events without `m.mentions`.
 */
import type { PushAction, PushCondition, PushRule, PushRuleset } from '../domain/push-rules.js';

export const MASTER_RULE_ID = '.m.rule.master';

/** Which default rule set: the current spec's, or with v1.16's legacy mention rules. */
export interface DefaultRuleOptions {
  legacyMentionRules: boolean;
}

export const CURRENT_DEFAULT_RULES: DefaultRuleOptions = { legacyMentionRules: false };

/** The rules v1.7 deprecated and v1.17 removed (MSC4210); never applied to events with `m.mentions`. */
export const LEGACY_MENTION_RULE_IDS: ReadonlySet<string> = new Set([
  '.m.rule.contains_display_name',
  '.m.rule.roomnotif',
  '.m.rule.contains_user_name',
]);

const NOTIFY_WITH_SOUND: PushAction[] = ['notify', { set_tweak: 'sound', value: 'default' }];
const HIGHLIGHT: PushAction = { set_tweak: 'highlight' };

function typeIs(type: string): PushCondition {
  return { kind: 'event_match', key: 'type', pattern: type };
}

/** The spec's default rules state that a rule for state events needs an explicit `state_key` condition. */
const EMPTY_STATE_KEY: PushCondition = { kind: 'event_match', key: 'state_key', pattern: '' };

const ONE_TO_ONE: PushCondition = { kind: 'room_member_count', is: '2' };

function rule(ruleId: string, conditions: PushCondition[], actions: PushAction[]): PushRule {
  return { rule_id: ruleId, default: true, enabled: true, conditions, actions };
}

function defaultOverrideRules(userId: string, legacy: boolean): PushRule[] {
  return [
    // Disabled by default; enabling it silences everything (it outranks every user rule).
    { ...rule(MASTER_RULE_ID, [], []), enabled: false },
    rule(
      '.m.rule.suppress_notices',
      [{ kind: 'event_match', key: 'content.msgtype', pattern: 'm.notice' }],
      [],
    ),
    rule(
      '.m.rule.invite_for_me',
      [
        typeIs('m.room.member'),
        { kind: 'event_match', key: 'content.membership', pattern: 'invite' },
        { kind: 'event_match', key: 'state_key', pattern: userId },
      ],
      [...NOTIFY_WITH_SOUND],
    ),
    rule('.m.rule.member_event', [typeIs('m.room.member')], []),
    // Added in v1.7 (intentional mentions).
    rule(
      '.m.rule.is_user_mention',
      [{ kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: userId }],
      [...NOTIFY_WITH_SOUND, HIGHLIGHT],
    ),
    ...(legacy
      ? [
          rule(
            '.m.rule.contains_display_name',
            [{ kind: 'contains_display_name' }],
            [...NOTIFY_WITH_SOUND, HIGHLIGHT],
          ),
        ]
      : []),
    rule(
      '.m.rule.is_room_mention',
      [
        { kind: 'event_property_is', key: 'content.m\\.mentions.room', value: true },
        { kind: 'sender_notification_permission', key: 'room' },
      ],
      ['notify', HIGHLIGHT],
    ),
    ...(legacy
      ? [
          rule(
            '.m.rule.roomnotif',
            [
              { kind: 'event_match', key: 'content.body', pattern: '@room' },
              { kind: 'sender_notification_permission', key: 'room' },
            ],
            ['notify', HIGHLIGHT],
          ),
        ]
      : []),
    rule('.m.rule.tombstone', [typeIs('m.room.tombstone'), EMPTY_STATE_KEY], ['notify', HIGHLIGHT]),
    rule('.m.rule.reaction', [typeIs('m.reaction')], []),
    rule('.m.rule.room.server_acl', [typeIs('m.room.server_acl'), EMPTY_STATE_KEY], []),
    // Added in v1.9: no notification for event replacements (edits).
    rule(
      '.m.rule.suppress_edits',
      [{ kind: 'event_property_is', key: 'content.m\\.relates_to.rel_type', value: 'm.replace' }],
      [],
    ),
  ];
}

function defaultUnderrideRules(): PushRule[] {
  return [
    rule(
      '.m.rule.call',
      [typeIs('m.call.invite')],
      ['notify', { set_tweak: 'sound', value: 'ring' }],
    ),
    rule(
      '.m.rule.encrypted_room_one_to_one',
      [ONE_TO_ONE, typeIs('m.room.encrypted')],
      [...NOTIFY_WITH_SOUND],
    ),
    rule('.m.rule.room_one_to_one', [ONE_TO_ONE, typeIs('m.room.message')], [...NOTIFY_WITH_SOUND]),
    rule('.m.rule.message', [typeIs('m.room.message')], ['notify']),
    rule('.m.rule.encrypted', [typeIs('m.room.encrypted')], ['notify']),
  ];
}

/** v1.16's one default content rule: the user's localpart, on word boundaries. */
function legacyContentRules(userId: string): PushRule[] {
  const localpart = userId.slice(1, userId.indexOf(':'));
  return [
    {
      rule_id: '.m.rule.contains_user_name',
      default: true,
      enabled: true,
      pattern: localpart,
      actions: [...NOTIFY_WITH_SOUND, HIGHLIGHT],
    },
  ];
}

/**
 * The server-default rules for `userId` (the invite and mention rules name the user),
 * fresh objects on every call so callers may change them.
 */
export function defaultRules(
  userId: string,
  options: DefaultRuleOptions = CURRENT_DEFAULT_RULES,
): PushRuleset {
  const legacy = options.legacyMentionRules;
  return structuredClone({
    override: defaultOverrideRules(userId, legacy),
    content: legacy ? legacyContentRules(userId) : [],
    room: [],
    sender: [],
    underride: defaultUnderrideRules(),
  });
}
