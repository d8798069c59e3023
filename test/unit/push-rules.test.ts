import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MatrixError } from '../../src/protocol/errors.js';
import { defaultRules, MASTER_RULE_ID } from '../../src/push/default-rules.js';
import {
  conditionMatches,
  evaluate,
  notificationEffect,
  propertyAt,
  type PushContext,
  type PushEvent,
} from '../../src/push/evaluator.js';
import {
  deleteUserRule,
  emptyUserPushRules,
  findRule,
  mergedRuleset,
  normaliseActions,
  parseRuleKind,
  parseUserRule,
  pushRulesContent,
  setRuleActions,
  setRuleEnabled,
  upsertUserRule,
} from '../../src/push/ruleset.js';
import type { PushCondition, RuleKind, UserPushRules } from '../../src/domain/push-rules.js';

const ALICE = '@alice:weft.test';
const BOB = '@bob:weft.test';
const ROOM = '!room:weft.test';

function message(
  content: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): PushEvent {
  return {
    type: 'm.room.message',
    sender: BOB,
    room_id: ROOM,
    content: { msgtype: 'm.text', body: 'hello', ...content },
    ...extra,
  };
}

function stateEvent(type: string, stateKey: string, content: Record<string, unknown>): PushEvent {
  return { type, sender: BOB, room_id: ROOM, state_key: stateKey, content };
}

function context(overrides: Partial<PushContext> = {}): PushContext {
  return {
    userId: ALICE,
    displayName: 'Alice',
    roomMemberCount: 5,
    senderPowerLevel: 0,
    ...overrides,
  };
}

/** The ID of the rule that decides for `event` with Alice's rules. */
function decidingRule(
  event: PushEvent,
  ctx: Partial<PushContext> = {},
  userRules: UserPushRules = emptyUserPushRules(),
): string | undefined {
  return evaluate(event, context(ctx), mergedRuleset(ALICE, userRules))?.ruleId;
}

function userRule(
  kind: RuleKind,
  ruleId: string,
  body: Record<string, unknown>,
  rules = emptyUserPushRules(),
) {
  return upsertUserRule(rules, kind, parseUserRule(kind, ruleId, body));
}

function matches(
  condition: PushCondition,
  event: PushEvent,
  ctx: Partial<PushContext> = {},
): boolean {
  return conditionMatches(condition, event, context(ctx));
}

function refusedWith(errcode: string, status = 400) {
  return (error: unknown) =>
    error instanceof MatrixError && error.errcode === errcode && error.status === status;
}

describe('server-default rules', () => {
  it('are the current spec list, in its order, with no content rules', () => {
    const rules = defaultRules(ALICE);
    assert.deepEqual(
      rules.override.map((rule) => rule.rule_id),
      [
        '.m.rule.master',
        '.m.rule.suppress_notices',
        '.m.rule.invite_for_me',
        '.m.rule.member_event',
        '.m.rule.is_user_mention',
        '.m.rule.is_room_mention',
        '.m.rule.tombstone',
        '.m.rule.reaction',
        '.m.rule.room.server_acl',
        '.m.rule.suppress_edits',
      ],
    );
    assert.deepEqual(rules.content, []);
    assert.deepEqual(rules.room, []);
    assert.deepEqual(rules.sender, []);
    assert.deepEqual(
      rules.underride.map((rule) => rule.rule_id),
      [
        '.m.rule.call',
        '.m.rule.encrypted_room_one_to_one',
        '.m.rule.room_one_to_one',
        '.m.rule.message',
        '.m.rule.encrypted',
      ],
    );
  });

  it('are all marked default, and all enabled except the master rule', () => {
    const rules = [...defaultRules(ALICE).override, ...defaultRules(ALICE).underride];
    assert.ok(rules.every((rule) => rule.default));
    assert.deepEqual(
      rules.filter((rule) => !rule.enabled).map((rule) => rule.rule_id),
      [MASTER_RULE_ID],
    );
  });

  it('are fresh objects on each call', () => {
    const first = defaultRules(ALICE);
    first.override[1]!.actions.push('notify');
    assert.deepEqual(defaultRules(ALICE).override[1]!.actions, []);
  });

  it('.m.rule.master is disabled; enabled, it silences everything', () => {
    assert.equal(decidingRule(message()), '.m.rule.message');
    const silenced = setRuleEnabled(ALICE, emptyUserPushRules(), 'override', MASTER_RULE_ID, true);
    const match = evaluate(message(), context(), mergedRuleset(ALICE, silenced));
    assert.equal(match?.ruleId, MASTER_RULE_ID);
    assert.deepEqual(match?.actions, []);
  });

  it('.m.rule.suppress_notices matches notices only', () => {
    assert.equal(decidingRule(message({ msgtype: 'm.notice' })), '.m.rule.suppress_notices');
    assert.equal(decidingRule(message({ msgtype: 'm.text' })), '.m.rule.message');
  });

  it('.m.rule.invite_for_me matches an invite of this user only', () => {
    const invite = (target: string) =>
      stateEvent('m.room.member', target, { membership: 'invite' });
    assert.equal(decidingRule(invite(ALICE)), '.m.rule.invite_for_me');
    assert.equal(decidingRule(invite('@carol:weft.test')), '.m.rule.member_event');
    assert.deepEqual(
      notificationEffect(evaluate(invite(ALICE), context(), defaultRules(ALICE))!.actions),
      {
        notify: true,
        highlight: false,
        sound: 'default',
        tweaks: { sound: 'default' },
      },
    );
  });

  it('.m.rule.member_event silences other membership events', () => {
    const join = stateEvent('m.room.member', BOB, { membership: 'join' });
    const match = evaluate(join, context(), defaultRules(ALICE));
    assert.equal(match?.ruleId, '.m.rule.member_event');
    assert.deepEqual(match?.actions, []);
    assert.equal(decidingRule(stateEvent('m.room.name', '', { name: 'x' })), undefined);
  });

  it('.m.rule.is_user_mention matches m.mentions.user_ids holding the user, and highlights', () => {
    const mention = (userIds: string[]) => message({ 'm.mentions': { user_ids: userIds } });
    const match = evaluate(mention([BOB, ALICE]), context(), defaultRules(ALICE));
    assert.equal(match?.ruleId, '.m.rule.is_user_mention');
    assert.equal(notificationEffect(match!.actions).highlight, true);
    assert.equal(decidingRule(mention([BOB])), '.m.rule.message');
    // The key escapes its dot: a nested {m: {mentions: …}} is another property.
    assert.equal(
      decidingRule(message({ m: { mentions: { user_ids: [ALICE] } } })),
      '.m.rule.message',
    );
  });

  it('.m.rule.is_room_mention needs m.mentions.room and the notifications.room power level', () => {
    const roomMention = message({ 'm.mentions': { room: true } });
    const match = evaluate(roomMention, context({ senderPowerLevel: 50 }), defaultRules(ALICE));
    assert.equal(match?.ruleId, '.m.rule.is_room_mention');
    assert.deepEqual(notificationEffect(match!.actions), {
      notify: true,
      highlight: true,
      tweaks: { highlight: true },
    });
    assert.equal(decidingRule(roomMention, { senderPowerLevel: 49 }), '.m.rule.message');
    assert.equal(
      decidingRule(message({ 'm.mentions': { room: false } }), { senderPowerLevel: 100 }),
      '.m.rule.message',
    );
    assert.equal(
      decidingRule(roomMention, { senderPowerLevel: 10, notificationPowerLevels: { room: 10 } }),
      '.m.rule.is_room_mention',
    );
  });

  it('.m.rule.tombstone matches the tombstone state event and highlights', () => {
    const tombstone = stateEvent('m.room.tombstone', '', { replacement_room: '!new:weft.test' });
    const match = evaluate(tombstone, context(), defaultRules(ALICE));
    assert.equal(match?.ruleId, '.m.rule.tombstone');
    assert.equal(notificationEffect(match!.actions).highlight, true);
    const notState = { type: 'm.room.tombstone', sender: BOB, content: {} };
    assert.equal(decidingRule(notState), undefined);
  });

  it('.m.rule.reaction silences reactions', () => {
    const reaction = { type: 'm.reaction', sender: BOB, room_id: ROOM, content: {} };
    assert.equal(decidingRule(reaction), '.m.rule.reaction');
    assert.equal(decidingRule({ ...reaction, type: 'm.reactions' }), undefined);
  });

  it('.m.rule.room.server_acl silences the server ACL state event', () => {
    assert.equal(decidingRule(stateEvent('m.room.server_acl', '', {})), '.m.rule.room.server_acl');
    assert.equal(decidingRule(stateEvent('m.room.server_acl', 'x', {})), undefined);
  });

  it('.m.rule.suppress_edits silences replacements', () => {
    const edit = (relType: string) =>
      message({ 'm.relates_to': { rel_type: relType, event_id: '$e' } });
    assert.equal(decidingRule(edit('m.replace')), '.m.rule.suppress_edits');
    assert.equal(decidingRule(edit('m.thread')), '.m.rule.message');
  });

  it('.m.rule.call rings for call invites', () => {
    const call = { type: 'm.call.invite', sender: BOB, room_id: ROOM, content: {} };
    const match = evaluate(call, context(), defaultRules(ALICE));
    assert.equal(match?.ruleId, '.m.rule.call');
    assert.equal(notificationEffect(match!.actions).sound, 'ring');
    assert.equal(decidingRule({ ...call, type: 'm.call.answer' }), undefined);
  });

  it('.m.rule.encrypted_room_one_to_one matches encrypted events in rooms of two', () => {
    const encrypted = { type: 'm.room.encrypted', sender: BOB, room_id: ROOM, content: {} };
    const match = evaluate(encrypted, context({ roomMemberCount: 2 }), defaultRules(ALICE));
    assert.equal(match?.ruleId, '.m.rule.encrypted_room_one_to_one');
    assert.equal(notificationEffect(match!.actions).sound, 'default');
    assert.equal(decidingRule(encrypted, { roomMemberCount: 3 }), '.m.rule.encrypted');
  });

  it('.m.rule.room_one_to_one matches messages in rooms of two', () => {
    assert.equal(decidingRule(message(), { roomMemberCount: 2 }), '.m.rule.room_one_to_one');
    assert.equal(decidingRule(message(), { roomMemberCount: 3 }), '.m.rule.message');
  });

  it('.m.rule.message notifies without sound or highlight', () => {
    const match = evaluate(message(), context(), defaultRules(ALICE));
    assert.equal(match?.ruleId, '.m.rule.message');
    assert.deepEqual(notificationEffect(match!.actions), {
      notify: true,
      highlight: false,
      tweaks: {},
    });
    assert.equal(decidingRule({ ...message(), type: 'm.room.messages' }), undefined);
  });

  it('.m.rule.encrypted notifies for encrypted events in larger rooms', () => {
    const encrypted = { type: 'm.room.encrypted', sender: BOB, room_id: ROOM, content: {} };
    assert.equal(decidingRule(encrypted, { roomMemberCount: 10 }), '.m.rule.encrypted');
    assert.equal(decidingRule({ ...encrypted, type: 'm.room.encrypted.x' }), undefined);
  });
});

describe('event_match', () => {
  const topic = (value: unknown): PushEvent => ({
    type: 'm.room.topic',
    sender: BOB,
    state_key: '',
    content: { topic: value },
  });
  const lunch: PushCondition = { kind: 'event_match', key: 'content.topic', pattern: 'lunc?*' };

  it('matches the whole value with * and ?, case-insensitively', () => {
    assert.equal(matches(lunch, topic('Lunch plans')), true);
    assert.equal(matches(lunch, topic('LUNCH')), true);
    assert.equal(matches(lunch, topic(' lunch')), false);
    assert.equal(matches(lunch, topic('lunc')), false);
  });

  it('never matches an absent or non-string property, not even with *', () => {
    const any: PushCondition = { kind: 'event_match', key: 'content.topic', pattern: '*' };
    assert.equal(matches(any, topic('')), true);
    assert.equal(matches(any, topic(null)), false);
    assert.equal(matches(any, topic(1)), false);
    assert.equal(matches({ ...any, key: 'content.absent' }, topic('x')), false);
  });

  it('treats regular expression characters in the pattern literally', () => {
    const dotted: PushCondition = { kind: 'event_match', key: 'content.topic', pattern: 'a.c(' };
    assert.equal(matches(dotted, topic('A.C(')), true);
    assert.equal(matches(dotted, topic('abc(')), false);
  });

  it('matches content.body on word boundaries', () => {
    const example: PushCondition = { kind: 'event_match', key: 'content.body', pattern: 'ex*ple' };
    const body = (text: string) => message({ body: text });
    assert.equal(matches(example, body('An example event.')), true);
    assert.equal(matches(example, body('exple')), true);
    assert.equal(matches(example, body('An exciting triple-whammy')), true);
    assert.equal(matches(example, body('examples')), false);
    assert.equal(matches(example, body('an_example')), false);
  });

  it('follows dotted keys, with \\. for a dot and \\\\ for a backslash inside a key', () => {
    const event = message({ 'm.key': 'flat', m: { key: 'nested' }, 'back\\slash': 'yes' });
    assert.equal(
      matches({ kind: 'event_match', key: 'content.m\\.key', pattern: 'flat' }, event),
      true,
    );
    assert.equal(
      matches({ kind: 'event_match', key: 'content.m.key', pattern: 'nested' }, event),
      true,
    );
    assert.equal(
      matches({ kind: 'event_match', key: 'content.m.key', pattern: 'flat' }, event),
      false,
    );
    assert.equal(propertyAt(event, 'content.back\\\\slash'), 'yes');
  });

  it('does not reach into arrays or inherited properties', () => {
    const event = message({ list: ['a'] });
    assert.equal(propertyAt(event, 'content.list.0'), undefined);
    assert.equal(propertyAt(event, 'content.constructor'), undefined);
    assert.equal(propertyAt(event, 'content.__proto__'), undefined);
  });
});

describe('event_property_is', () => {
  const create = (federate: unknown) => stateEvent('m.room.create', '', { 'm.federate': federate });
  const federates: PushCondition = {
    kind: 'event_property_is',
    key: 'content.m\\.federate',
    value: true,
  };

  it('matches the exact value without casting', () => {
    assert.equal(matches(federates, create(true)), true);
    assert.equal(matches(federates, create('true')), false);
    assert.equal(matches(federates, create(1)), false);
  });

  it('matches null, integers and strings, and nothing when the property is absent', () => {
    assert.equal(matches({ ...federates, value: null }, create(null)), true);
    assert.equal(matches({ ...federates, value: 3 }, create(3)), true);
    assert.equal(matches({ ...federates, value: 'x' }, create('x')), true);
    assert.equal(
      matches({ ...federates, value: null }, stateEvent('m.room.create', '', {})),
      false,
    );
  });
});

describe('event_property_contains', () => {
  const aliases = (value: unknown) =>
    stateEvent('m.room.canonical_alias', '', { alias: '#a:weft.test', alt_aliases: value });
  const contains: PushCondition = {
    kind: 'event_property_contains',
    key: 'content.alt_aliases',
    value: '#myroom:example.com',
  };

  it('matches an array holding the exact value', () => {
    assert.equal(
      matches(contains, aliases(['#somewhere:example.org', '#myroom:example.com'])),
      true,
    );
    assert.equal(matches(contains, aliases([':example.com'])), false);
    assert.equal(matches({ ...contains, value: '1' }, aliases([1])), false);
    assert.equal(matches({ ...contains, value: 1 }, aliases([1])), true);
  });

  it('never matches a non-array property', () => {
    assert.equal(matches(contains, aliases('#myroom:example.com')), false);
    assert.equal(matches({ ...contains, key: 'content.alias' }, aliases([])), false);
  });
});

describe('contains_display_name', () => {
  const condition: PushCondition = { kind: 'contains_display_name' };
  const body = (text: string) => message({ body: text });

  it('matches the display name in the body on word boundaries, case-insensitively', () => {
    assert.equal(matches(condition, body('Hello ALICE!')), true);
    assert.equal(matches(condition, body('alice')), true);
    assert.equal(matches(condition, body('Alicez is here')), false);
  });

  it('never matches without a display name or a string body', () => {
    assert.equal(matches(condition, body('Alice'), { displayName: null }), false);
    assert.equal(matches(condition, body('Alice'), { displayName: '' }), false);
    assert.equal(matches(condition, message({ body: 42 })), false);
  });

  it('treats the display name literally', () => {
    assert.equal(matches(condition, body('ping a.b?'), { displayName: 'a.b' }), true);
    assert.equal(matches(condition, body('ping axb'), { displayName: 'a.b' }), false);
  });
});

describe('room_member_count', () => {
  const cases: Array<[string, number, boolean]> = [
    ['2', 2, true],
    ['2', 3, false],
    ['==2', 2, true],
    ['==2', 1, false],
    ['<3', 2, true],
    ['<3', 3, false],
    ['>3', 4, true],
    ['>3', 3, false],
    ['<=3', 3, true],
    ['<=3', 4, false],
    ['>=3', 3, true],
    ['>=3', 2, false],
    ['=3', 3, false],
    ['two', 2, false],
  ];
  for (const [is, count, expected] of cases) {
    it(`is "${is}" with ${count} members: ${expected}`, () => {
      assert.equal(
        matches({ kind: 'room_member_count', is }, message(), { roomMemberCount: count }),
        expected,
      );
    });
  }
});

describe('sender_notification_permission', () => {
  const room: PushCondition = { kind: 'sender_notification_permission', key: 'room' };

  it('requires notifications.room, 50 by default', () => {
    assert.equal(matches(room, message(), { senderPowerLevel: 50 }), true);
    assert.equal(matches(room, message(), { senderPowerLevel: 49 }), false);
  });

  it('reads the room’s notification levels', () => {
    const levels = { room: 100, custom: 5 };
    assert.equal(
      matches(room, message(), { senderPowerLevel: 50, notificationPowerLevels: levels }),
      false,
    );
    const custom = { ...room, key: 'custom' };
    assert.equal(
      matches(custom, message(), { senderPowerLevel: 5, notificationPowerLevels: levels }),
      true,
    );
    assert.equal(matches(custom, message(), { senderPowerLevel: 100 }), false);
  });
});

describe('unrecognised conditions', () => {
  it('never match, which disables their rule', () => {
    assert.equal(matches({ kind: 'org.example.always' }, message()), false);
    const rules = userRule('override', 'odd', {
      conditions: [{ kind: 'org.example.always' }],
      actions: ['notify', { set_tweak: 'highlight' }],
    });
    assert.equal(decidingRule(message(), {}, rules), '.m.rule.message');
  });
});

describe('content rules', () => {
  it('match content.body on word boundaries', () => {
    const rules = userRule('content', 'cake', { pattern: 'cake*lie', actions: ['notify'] });
    assert.equal(decidingRule(message({ body: 'The cake is a lie.' }), {}, rules), 'cake');
    assert.equal(decidingRule(message({ body: 'cupcake is a lie' }), {}, rules), '.m.rule.message');
  });
});

describe('rule order', () => {
  const notifyAll = { conditions: [], actions: ['notify', { set_tweak: 'highlight' }] };

  it('the master rule outranks every user rule', () => {
    let rules = userRule('override', 'everything', notifyAll);
    rules = setRuleEnabled(ALICE, rules, 'override', MASTER_RULE_ID, true);
    assert.equal(decidingRule(message(), {}, rules), MASTER_RULE_ID);
    assert.deepEqual(
      mergedRuleset(ALICE, rules)
        .override.slice(0, 3)
        .map((rule) => rule.rule_id),
      [MASTER_RULE_ID, 'everything', '.m.rule.suppress_notices'],
    );
  });

  it('user overrides outrank the default overrides', () => {
    const rules = userRule('override', 'notices', {
      conditions: [{ kind: 'event_match', key: 'content.msgtype', pattern: 'm.notice' }],
      actions: ['notify'],
    });
    assert.equal(decidingRule(message({ msgtype: 'm.notice' }), {}, rules), 'notices');
  });

  it('user underrides outrank the default underrides, and lose to every other kind', () => {
    let rules = userRule('underride', 'all-messages', notifyAll);
    assert.equal(decidingRule(message(), {}, rules), 'all-messages');
    rules = userRule('sender', BOB, { actions: [] }, rules);
    assert.equal(decidingRule(message(), {}, rules), BOB);
  });

  it('checks override, content, room, sender, underride in that order', () => {
    let rules = userRule('sender', BOB, { actions: ['notify'] });
    rules = userRule('room', ROOM, { actions: ['notify'] }, rules);
    assert.equal(decidingRule(message(), {}, rules), ROOM);
    rules = userRule('content', 'hello', { pattern: 'hello', actions: ['notify'] }, rules);
    assert.equal(decidingRule(message(), {}, rules), 'hello');
    rules = userRule('override', 'first', notifyAll, rules);
    assert.equal(decidingRule(message(), {}, rules), 'first');
  });

  it('skips disabled rules and applies changed actions of default rules', () => {
    let rules = setRuleEnabled(ALICE, emptyUserPushRules(), 'underride', '.m.rule.message', false);
    assert.equal(decidingRule(message(), {}, rules), undefined);
    rules = setRuleActions(ALICE, emptyUserPushRules(), 'underride', '.m.rule.message', [
      'notify',
      { set_tweak: 'sound', value: 'x' },
    ]);
    const match = evaluate(message(), context(), mergedRuleset(ALICE, rules));
    assert.equal(notificationEffect(match!.actions).sound, 'x');
  });
});

describe('room and sender rules', () => {
  it('match their own room or sender only', () => {
    const rules = userRule('sender', '@carol:weft.test', { actions: [] });
    assert.equal(decidingRule(message(), {}, rules), '.m.rule.message');
    assert.equal(
      decidingRule(message({}, { sender: '@carol:weft.test' }), {}, rules),
      '@carol:weft.test',
    );
    const roomRules = userRule('room', '!other:weft.test', { actions: [] });
    assert.equal(decidingRule(message(), {}, roomRules), '.m.rule.message');
  });
});

describe('muting a room', () => {
  it('with a room rule whose actions are empty: no notification, mentions still highlight', () => {
    const rules = userRule('room', ROOM, { actions: [] });
    const match = evaluate(message(), context(), mergedRuleset(ALICE, rules));
    assert.equal(match?.ruleId, ROOM);
    assert.equal(notificationEffect(match!.actions).notify, false);
    const otherRoom = message({}, { room_id: '!other:weft.test' });
    assert.equal(decidingRule(otherRoom, {}, rules), '.m.rule.message');
    const mention = message({ 'm.mentions': { user_ids: [ALICE] } });
    assert.equal(decidingRule(mention, {}, rules), '.m.rule.is_user_mention');
  });

  it('with an override on room_id: nothing notifies, mentions included', () => {
    const rules = userRule('override', ROOM, {
      conditions: [{ kind: 'event_match', key: 'room_id', pattern: ROOM }],
      actions: ['dont_notify'],
    });
    const mention = message({ 'm.mentions': { user_ids: [ALICE] } });
    const match = evaluate(mention, context(), mergedRuleset(ALICE, rules));
    assert.equal(match?.ruleId, ROOM);
    assert.deepEqual(match?.actions, []);
    assert.equal(notificationEffect(match!.actions).notify, false);
  });
});

describe('actions', () => {
  it('drop the legacy dont_notify and coalesce', () => {
    assert.deepEqual(normaliseActions(['dont_notify']), []);
    assert.deepEqual(normaliseActions(['notify', 'coalesce']), ['notify']);
    assert.deepEqual(parseUserRule('room', ROOM, { actions: ['dont_notify'] }).actions, []);
  });

  it('keep tweaks as sent, unknown tweak names included', () => {
    const tweaks = [
      { set_tweak: 'sound', value: 'bell' },
      { set_tweak: 'org.example.led', value: 'red' },
    ];
    assert.deepEqual(normaliseActions(['notify', ...tweaks]), ['notify', ...tweaks]);
  });

  it('refuse unknown actions and malformed lists', () => {
    assert.throws(() => normaliseActions(['beep']), refusedWith('M_INVALID_PARAM'));
    assert.throws(() => normaliseActions([{ value: 1 }]), refusedWith('M_INVALID_PARAM'));
    assert.throws(() => normaliseActions('notify'), refusedWith('M_BAD_JSON'));
    assert.throws(() => normaliseActions(undefined), refusedWith('M_MISSING_PARAM'));
  });

  it('notificationEffect: highlight without value is true, absent is false, only when notifying', () => {
    assert.equal(notificationEffect(['notify', { set_tweak: 'highlight' }]).highlight, true);
    assert.equal(
      notificationEffect(['notify', { set_tweak: 'highlight', value: false }]).highlight,
      false,
    );
    assert.equal(notificationEffect(['notify']).highlight, false);
    assert.equal(notificationEffect([{ set_tweak: 'highlight' }]).highlight, false);
    assert.deepEqual(notificationEffect([]), { notify: false, highlight: false, tweaks: {} });
  });
});

describe('validation of a user rule', () => {
  const actions = ['notify'];

  it('refuses reserved and ambiguous rule IDs', () => {
    for (const ruleId of ['.m.rule.mine', 'a/b', 'a\\b', '']) {
      assert.throws(
        () => parseUserRule('override', ruleId, { conditions: [], actions }),
        refusedWith('M_INVALID_PARAM'),
        ruleId,
      );
    }
  });

  it('requires room and sender rules to be named after their room or user', () => {
    assert.throws(
      () => parseUserRule('room', '@bob:weft.test', { actions }),
      refusedWith('M_INVALID_PARAM'),
    );
    assert.throws(() => parseUserRule('sender', ROOM, { actions }), refusedWith('M_INVALID_PARAM'));
    assert.equal(parseUserRule('sender', BOB, { actions }).rule_id, BOB);
  });

  it('requires the fields of each kind', () => {
    assert.throws(() => parseUserRule('content', 'c', { actions }), refusedWith('M_MISSING_PARAM'));
    assert.throws(
      () => parseUserRule('content', 'c', { pattern: 3, actions }),
      refusedWith('M_BAD_JSON'),
    );
    assert.throws(
      () => parseUserRule('override', 'o', { actions }),
      refusedWith('M_MISSING_PARAM'),
    );
    assert.throws(
      () => parseUserRule('underride', 'u', { conditions: {}, actions }),
      refusedWith('M_BAD_JSON'),
    );
    assert.throws(() => parseUserRule('room', ROOM, {}), refusedWith('M_MISSING_PARAM'));
    assert.throws(() => parseUserRule('room', ROOM, []), refusedWith('M_BAD_JSON'));
  });

  it('keeps only the fields of its kind', () => {
    const room = parseUserRule('room', ROOM, { actions, pattern: 'x', conditions: [] });
    assert.deepEqual(room, { rule_id: ROOM, default: false, enabled: true, actions });
    const content = parseUserRule('content', 'c', { actions, pattern: 'x', conditions: [] });
    assert.deepEqual(content, {
      rule_id: 'c',
      default: false,
      enabled: true,
      actions,
      pattern: 'x',
    });
  });

  it('refuses malformed recognised conditions and keeps unrecognised ones', () => {
    const withCondition = (condition: unknown) => () =>
      parseUserRule('override', 'o', { conditions: [condition], actions });
    assert.throws(
      withCondition({ kind: 'event_match', key: 'type' }),
      refusedWith('M_MISSING_PARAM'),
    );
    assert.throws(withCondition({ kind: 'room_member_count', is: 2 }), refusedWith('M_BAD_JSON'));
    assert.throws(
      withCondition({ kind: 'event_property_is', key: 'k', value: [1] }),
      refusedWith('M_BAD_JSON'),
    );
    assert.throws(
      withCondition({ kind: 'event_property_contains', key: 'k' }),
      refusedWith('M_MISSING_PARAM'),
    );
    assert.throws(withCondition({ key: 'type' }), refusedWith('M_MISSING_PARAM'));
    assert.throws(withCondition('event_match'), refusedWith('M_BAD_JSON'));
    assert.deepEqual(withCondition({ kind: 'org.example', x: 1 })().conditions, [
      { kind: 'org.example', x: 1 },
    ]);
  });

  it('refuses unknown kinds', () => {
    assert.equal(parseRuleKind('underride'), 'underride');
    assert.throws(() => parseRuleKind('global'), refusedWith('M_INVALID_PARAM'));
  });
});

describe('editing the rules', () => {
  const rule = (id: string) =>
    parseUserRule('override', id, { conditions: [], actions: ['notify'] });
  const ids = (rules: UserPushRules) => rules.custom.override.map((r) => r.rule_id);

  it('a new rule without position becomes the most important of its kind', () => {
    let rules = upsertUserRule(emptyUserPushRules(), 'override', rule('a'));
    rules = upsertUserRule(rules, 'override', rule('b'));
    assert.deepEqual(ids(rules), ['b', 'a']);
  });

  it('places rules with before and after, and keeps an updated rule’s place and enabled flag', () => {
    let rules = upsertUserRule(emptyUserPushRules(), 'override', rule('a'));
    rules = upsertUserRule(rules, 'override', rule('b'), { after: 'a' });
    rules = upsertUserRule(rules, 'override', rule('c'), { before: 'b', after: 'a' });
    assert.deepEqual(ids(rules), ['a', 'c', 'b']);
    rules = setRuleEnabled(ALICE, rules, 'override', 'c', false);
    rules = upsertUserRule(rules, 'override', { ...rule('c'), actions: [] });
    assert.deepEqual(ids(rules), ['a', 'c', 'b']);
    assert.equal(rules.custom.override[1]!.enabled, false);
    assert.deepEqual(rules.custom.override[1]!.actions, []);
    rules = upsertUserRule(rules, 'override', rule('a'), { after: 'b' });
    assert.deepEqual(ids(rules), ['c', 'b', 'a']);
  });

  it('refuses before/after naming a server-default or unknown rule', () => {
    const rules = upsertUserRule(emptyUserPushRules(), 'override', rule('a'));
    for (const position of [{ before: '.m.rule.suppress_notices' }, { after: 'nope' }]) {
      assert.throws(
        () => upsertUserRule(rules, 'override', rule('b'), position),
        refusedWith('M_UNKNOWN'),
      );
    }
  });

  it('deletes user rules only: server-default and unknown rules are 404', () => {
    const rules = upsertUserRule(emptyUserPushRules(), 'override', rule('a'));
    assert.deepEqual(ids(deleteUserRule(rules, 'override', 'a')), []);
    assert.deepEqual(ids(rules), ['a']);
    assert.throws(
      () => deleteUserRule(rules, 'override', MASTER_RULE_ID),
      refusedWith('M_NOT_FOUND', 404),
    );
    assert.throws(() => deleteUserRule(rules, 'override', 'b'), refusedWith('M_NOT_FOUND', 404));
  });

  it('finds and changes rules of the right kind only', () => {
    const rules = emptyUserPushRules();
    assert.equal(findRule(ALICE, rules, 'underride', '.m.rule.call').default, true);
    assert.throws(
      () => findRule(ALICE, rules, 'override', '.m.rule.call'),
      refusedWith('M_NOT_FOUND', 404),
    );
    assert.throws(
      () => setRuleEnabled(ALICE, rules, 'override', '.m.rule.call', false),
      refusedWith('M_NOT_FOUND', 404),
    );
    assert.throws(
      () => setRuleActions(ALICE, rules, 'room', ROOM, []),
      refusedWith('M_NOT_FOUND', 404),
    );
    assert.throws(
      () => setRuleActions(ALICE, rules, 'underride', '.m.rule.call', ['beep']),
      refusedWith('M_INVALID_PARAM'),
    );
  });
});

describe('the JSON clients read', () => {
  it('has the five kinds under global, user rules marked default: false', () => {
    const rules = userRule('room', ROOM, { actions: [] });
    const content = pushRulesContent(
      ALICE,
      setRuleEnabled(ALICE, rules, 'override', MASTER_RULE_ID, true),
    );
    assert.deepEqual(Object.keys(content.global).sort(), [
      'content',
      'override',
      'room',
      'sender',
      'underride',
    ]);
    assert.deepEqual(content.global.room, [
      { rule_id: ROOM, default: false, enabled: true, actions: [] },
    ]);
    assert.deepEqual(content.global.override[0], {
      rule_id: MASTER_RULE_ID,
      default: true,
      enabled: true,
      conditions: [],
      actions: [],
    });
    assert.equal(content.global.underride.length, 5);
  });

  it('carries the user ID in the invite and mention rules', () => {
    const rules = pushRulesContent(BOB, emptyUserPushRules()).global.override;
    const invite = rules.find((r) => r.rule_id === '.m.rule.invite_for_me');
    assert.deepEqual(invite?.conditions?.[2], {
      kind: 'event_match',
      key: 'state_key',
      pattern: BOB,
    });
    const mention = rules.find((r) => r.rule_id === '.m.rule.is_user_mention');
    assert.deepEqual(mention?.conditions, [
      { kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: BOB },
    ]);
  });
});
