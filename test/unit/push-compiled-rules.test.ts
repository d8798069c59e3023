import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bindRuleset,
  compileRuleset,
  matchFor,
  rulesetKey,
  type CompiledRuleset,
} from '../../src/push/compiled-rules.js';
import {
  evaluate,
  notificationEffect,
  type PushContext,
  type PushEvent,
} from '../../src/push/evaluator.js';
import {
  emptyUserPushRules,
  mergedRuleset,
  parseUserRule,
  setRuleActions,
  setRuleEnabled,
  upsertUserRule,
} from '../../src/push/ruleset.js';
import type { PushRuleset, RuleKind, UserPushRules } from '../../src/domain/push-rules.js';

const ALICE = '@alice:weft.test';
const CAROL = '@carol:weft.test';
const BOB = '@bob:weft.test';
const ROOM = '!room:weft.test';

function message(content: Record<string, unknown>, extra: Record<string, unknown> = {}): PushEvent {
  return { type: 'm.room.message', sender: BOB, room_id: ROOM, content, ...extra };
}

function stateEvent(type: string, stateKey: string, content: Record<string, unknown>): PushEvent {
  return { type, sender: BOB, room_id: ROOM, state_key: stateKey, content };
}

/** Events that reach every default rule and every condition kind. */
const EVENTS: PushEvent[] = [
  message({ msgtype: 'm.text', body: 'hello' }),
  message({ msgtype: 'm.notice', body: 'a notice' }),
  message({ msgtype: 'm.text', body: 'hi Alice!' }),
  message({ msgtype: 'm.text', body: 'hi alicea' }),
  message({ body: 'mention', 'm.mentions': { user_ids: [ALICE] } }),
  message({ body: 'mention', 'm.mentions': { user_ids: [CAROL, ALICE] } }),
  message({ body: 'mention', 'm.mentions': { user_ids: ALICE } }),
  message({ body: 'room', 'm.mentions': { room: true } }),
  message({ body: 'room', 'm.mentions': { room: 'true' } }),
  message({ body: 'edit', 'm.relates_to': { rel_type: 'm.replace', event_id: '$x' } }),
  message({ body: 'thread', 'm.relates_to': { rel_type: 'm.thread', event_id: '$x' } }),
  message({ body: 'The cake is a lie.' }),
  message({ body: `ping ${ALICE} and ${CAROL}` }),
  message({ body: 'from carol' }, { sender: CAROL }),
  message({ body: 'other room' }, { room_id: '!other:weft.test' }),
  message({ body: 42 }),
  message({ 'dotted.key': { 'back\\slash': 'yes' }, body: 'x' }),
  stateEvent('m.room.member', ALICE, { membership: 'invite' }),
  stateEvent('m.room.member', CAROL, { membership: 'invite' }),
  stateEvent('m.room.member', '@ALICE:weft.test', { membership: 'invite' }),
  stateEvent('m.room.member', ALICE, { membership: 'join' }),
  stateEvent('m.room.tombstone', '', { body: 'gone', replacement_room: '!new:weft.test' }),
  { type: 'm.room.tombstone', sender: BOB, room_id: ROOM, content: {} },
  stateEvent('m.room.server_acl', '', { allow: ['*'] }),
  { type: 'm.reaction', sender: BOB, room_id: ROOM, content: {} },
  { type: 'm.call.invite', sender: BOB, room_id: ROOM, content: {} },
  { type: 'm.room.encrypted', sender: BOB, room_id: ROOM, content: {} },
  { type: 'm.room.message', sender: ALICE, room_id: ROOM, content: { body: 'own' } },
];

type RoomPart = Pick<
  PushContext,
  'roomMemberCount' | 'senderPowerLevel' | 'notificationPowerLevels'
>;

const ROOMS: RoomPart[] = [
  { roomMemberCount: 2, senderPowerLevel: 0 },
  { roomMemberCount: 5, senderPowerLevel: 50 },
  { roomMemberCount: 5, senderPowerLevel: 50, notificationPowerLevels: { room: 100 } },
  { roomMemberCount: 500, senderPowerLevel: 5, notificationPowerLevels: { room: 0, custom: 5 } },
];

const DISPLAY_NAMES = ['Alice', 'carol', null, ''];

function userRule(
  kind: RuleKind,
  ruleId: string,
  body: Record<string, unknown>,
  rules = emptyUserPushRules(),
) {
  return upsertUserRule(rules, kind, parseUserRule(kind, ruleId, body));
}

/** Rule sets covering the defaults changed, every user rule kind and every condition kind. */
function userRuleSets(userId: string): Record<string, UserPushRules> {
  const none = emptyUserPushRules();
  return {
    defaults: none,
    master: setRuleEnabled(userId, none, 'override', '.m.rule.master', true),
    'message disabled': setRuleEnabled(userId, none, 'underride', '.m.rule.message', false),
    'message actions': setRuleActions(userId, none, 'underride', '.m.rule.message', [
      'notify',
      { set_tweak: 'sound', value: 'x' },
    ]),
    'muted room': userRule('room', ROOM, { actions: [] }),
    'muted sender': userRule('sender', CAROL, { actions: ['dont_notify'] }),
    'content rule': userRule('content', 'cake', { pattern: 'cake*lie', actions: ['notify'] }),
    'own ID in content': userRule('content', 'me', { pattern: userId, actions: ['notify'] }),
    'every condition': userRule('override', 'all', {
      conditions: [
        { kind: 'contains_display_name' },
        { kind: 'room_member_count', is: '>=3' },
        { kind: 'sender_notification_permission', key: 'custom' },
        { kind: 'event_property_is', key: 'content.msgtype', value: 'm.text' },
      ],
      actions: ['notify', { set_tweak: 'highlight', value: false }],
    }),
    'own ID in conditions': userRule('underride', 'mine', {
      conditions: [
        { kind: 'event_match', key: 'content.body', pattern: userId },
        { kind: 'event_property_is', key: 'state_key', value: userId },
      ],
      actions: ['notify'],
    }),
    'own ID in a body glob': userRule('override', 'body', {
      conditions: [{ kind: 'event_match', key: 'content.body', pattern: userId }],
      actions: ['notify', { set_tweak: 'highlight' }],
    }),
    'dotted keys and odd counts': userRule('override', 'odd', {
      conditions: [
        { kind: 'event_match', key: 'content.dotted\\.key.back\\slash', pattern: 'y*' },
        { kind: 'room_member_count', is: 'x' },
      ],
      actions: ['notify'],
    }),
    'unknown condition': userRule('override', 'never', {
      conditions: [{ kind: 'org.example.always' }],
      actions: ['notify'],
    }),
    'contains literal': userRule('override', 'carol', {
      conditions: [
        { kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: CAROL },
      ],
      actions: ['notify'],
    }),
  };
}

function compiledAnswer(rules: CompiledRuleset, event: PushEvent, context: PushContext) {
  const { userId, displayName, ...room } = context;
  const match = matchFor(bindRuleset(rules, event, room), { userId, displayName });
  return match && { kind: match.kind, ruleId: match.ruleId, actions: match.actions };
}

/** Every event, room and display name: the compiled rules answer as `evaluate` does. */
function assertAgrees(
  rules: PushRuleset,
  compiled: CompiledRuleset,
  userId: string,
  label: string,
) {
  for (const event of EVENTS) {
    for (const room of ROOMS) {
      for (const displayName of DISPLAY_NAMES) {
        const context: PushContext = { userId, displayName, ...room };
        assert.deepEqual(
          compiledAnswer(compiled, event, context),
          evaluate(event, context, rules),
          `${label}: ${JSON.stringify({ event, context })}`,
        );
      }
    }
  }
}

describe('compiled push rules', () => {
  it('agree with evaluate for every rule set, event, room and display name', () => {
    for (const userId of [ALICE, CAROL]) {
      for (const [label, userRules] of Object.entries(userRuleSets(userId))) {
        const rules = mergedRuleset(userId, userRules);
        assertAgrees(rules, compileRuleset(rules, userId), userId, label);
      }
    }
  });

  it('agree with evaluate when one compilation serves every user with an equal key', () => {
    const alices = userRuleSets(ALICE);
    const carols = userRuleSets(CAROL);
    for (const label of Object.keys(alices)) {
      const aliceRules = mergedRuleset(ALICE, alices[label]!);
      const carolRules = mergedRuleset(CAROL, carols[label]!);
      const shared = rulesetKey(aliceRules, ALICE) === rulesetKey(carolRules, CAROL);
      // Only conditions name "the member" (a content rule's pattern stays literal), and
      // Alice's condition naming Carol is not Carol's naming herself.
      assert.equal(shared, !['own ID in content', 'contains literal'].includes(label), label);
      if (shared) assertAgrees(carolRules, compileRuleset(aliceRules, ALICE), CAROL, label);
    }
  });

  it('give different keys to rules that differ beyond the user’s own ID', () => {
    const defaults = rulesetKey(mergedRuleset(ALICE, emptyUserPushRules()), ALICE);
    const muted = userRule('room', ROOM, { actions: [] });
    assert.notEqual(rulesetKey(mergedRuleset(ALICE, muted), ALICE), defaults);
    // Alice's rule naming Carol literally is not Carol's rule naming herself.
    const literal = userRuleSets(ALICE)['contains literal']!;
    const own = userRule('override', 'carol', {
      conditions: [
        { kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: CAROL },
      ],
      actions: ['notify'],
    });
    assert.notEqual(
      rulesetKey(mergedRuleset(ALICE, literal), ALICE),
      rulesetKey(mergedRuleset(CAROL, own), CAROL),
    );
  });

  it('read each rule’s effect from its actions once', () => {
    const rules = mergedRuleset(ALICE, emptyUserPushRules());
    const compiled = compileRuleset(rules, ALICE);
    const mention = message({ body: 'x', 'm.mentions': { user_ids: [ALICE] } });
    const room = { roomMemberCount: 5, senderPowerLevel: 0 };
    const match = matchFor(bindRuleset(compiled, mention, room), { userId: ALICE });
    assert.deepEqual(match?.effect, notificationEffect(match!.actions));
    assert.equal(match?.effect.highlight, true);
  });

  it('leave per member only the rules that depend on the member', () => {
    const compiled = compileRuleset(mergedRuleset(ALICE, emptyUserPushRules()), ALICE);
    const room = { roomMemberCount: 500, senderPowerLevel: 0 };
    const bound = bindRuleset(compiled, message({ msgtype: 'm.text', body: 'hello' }), room);
    assert.deepEqual(
      bound.candidates.map((candidate) => candidate.match.ruleId),
      [],
      'no m.mentions: nothing depends on the member',
    );
    assert.equal(bound.fallback?.ruleId, '.m.rule.message');
    const mention = message({ body: 'x', 'm.mentions': { user_ids: [CAROL] } });
    const withMention = bindRuleset(compiled, mention, room);
    assert.deepEqual(
      withMention.candidates.map((candidate) => candidate.match.ruleId),
      ['.m.rule.is_user_mention'],
    );
    assert.equal(matchFor(withMention, { userId: CAROL })?.ruleId, '.m.rule.is_user_mention');
    assert.equal(matchFor(withMention, { userId: ALICE })?.ruleId, '.m.rule.message');
  });
});

describe('the legacy mention rules (push.legacy_mention_rules)', () => {
  const LEGACY = { legacyMentionRules: true };
  const legacyEvents: PushEvent[] = [
    message({ body: 'hey alice, look' }),
    message({ body: 'hey alice, look', 'm.mentions': {} }),
    message({ body: '@room wake up' }),
    message({ body: '@room wake up', 'm.mentions': {} }),
    message({ body: 'Ally: hi' }),
  ];

  it('are served where v1.16 put them, and not by default', () => {
    const ids = (rules: PushRuleset, kind: RuleKind) => rules[kind].map((rule) => rule.rule_id);
    const legacy = mergedRuleset(ALICE, emptyUserPushRules(), LEGACY);
    assert.deepEqual(ids(legacy, 'override').slice(4, 8), [
      '.m.rule.is_user_mention',
      '.m.rule.contains_display_name',
      '.m.rule.is_room_mention',
      '.m.rule.roomnotif',
    ]);
    assert.deepEqual(legacy.content, [
      {
        rule_id: '.m.rule.contains_user_name',
        default: true,
        enabled: true,
        pattern: 'alice',
        actions: ['notify', { set_tweak: 'sound', value: 'default' }, { set_tweak: 'highlight' }],
      },
    ]);
    const current = mergedRuleset(ALICE, emptyUserPushRules());
    assert.equal(current.content.length, 0);
    assert.ok(!ids(current, 'override').includes('.m.rule.roomnotif'));
  });

  it('highlight only events without m.mentions', () => {
    const rules = mergedRuleset(ALICE, emptyUserPushRules(), LEGACY);
    const context: PushContext = { userId: ALICE, displayName: 'Ally', ...ROOMS[1]! };
    const decided = legacyEvents.map((event) => evaluate(event, context, rules)?.ruleId);
    assert.deepEqual(decided, [
      '.m.rule.contains_user_name',
      '.m.rule.message',
      '.m.rule.roomnotif',
      '.m.rule.message',
      '.m.rule.contains_display_name',
    ]);
  });

  it('compile to the same answers, one compilation shared by every user', () => {
    EVENTS.push(...legacyEvents);
    try {
      const aliceRules = mergedRuleset(ALICE, emptyUserPushRules(), LEGACY);
      const carolRules = mergedRuleset(CAROL, emptyUserPushRules(), LEGACY);
      assert.equal(rulesetKey(aliceRules, ALICE), rulesetKey(carolRules, CAROL));
      assertAgrees(aliceRules, compileRuleset(aliceRules, ALICE), ALICE, 'legacy');
      assertAgrees(carolRules, compileRuleset(aliceRules, ALICE), CAROL, 'legacy, shared');
    } finally {
      EVENTS.splice(EVENTS.length - legacyEvents.length);
    }
  });
});
