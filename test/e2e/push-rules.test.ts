/**
 * The push rule endpoints over HTTP against a real server: the spec's default
 * rules in its order (prose only, asserted directly), user rules with their
 * fields and positions, enabled/actions on default and user rules, the
 * refusals, concurrency and durability across a restart.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ServerEventBus, ServerEvents } from '../../src/domain/server-events.js';
import { EventBus } from '../../src/util/event-bus.js';
import { PushRuleService } from '../../src/push/push-rule-service.js';
import type { UserPushRules } from '../../src/domain/push-rules.js';
import type { PushRuleStore } from '../../src/storage/storage.js';
import { CLIENT_V3, serverSuite, type Session, withServer } from '../support/fixture.js';
import {
  assertResponseMatchesSpec,
  assertSpecError,
  expectError,
  expectSpec,
} from '../support/spec-schemas.js';

type Body = Record<string, unknown>;

interface Rule {
  rule_id: string;
  default: boolean;
  enabled: boolean;
  actions: unknown[];
  conditions?: Body[];
  pattern?: string;
}

type Ruleset = Record<string, Rule[]>;

const ALL_RULES = `${CLIENT_V3}/pushrules/`;
const GLOBAL_RULES = `${CLIENT_V3}/pushrules/global/`;
const ONE_RULE = `${CLIENT_V3}/pushrules/global/{kind}/{ruleId}`;
const ENABLED = `${ONE_RULE}/enabled`;
const ACTIONS = `${ONE_RULE}/actions`;

/** "Predefined Rules" of the current spec (v1.17 removed the legacy mention rules, MSC4210). */
const DEFAULT_IDS = {
  override: [
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
  content: [],
  room: [],
  sender: [],
  underride: [
    '.m.rule.call',
    '.m.rule.encrypted_room_one_to_one',
    '.m.rule.room_one_to_one',
    '.m.rule.message',
    '.m.rule.encrypted',
  ],
};

function ruleUrl(kind: string, ruleId: string, attribute?: string, version = 'v3'): string {
  const url = `/_matrix/client/${version}/pushrules/global/${kind}/${encodeURIComponent(ruleId)}`;
  return attribute === undefined ? url : `${url}/${attribute}`;
}

function withPosition(url: string, position: { before?: string; after?: string }): string {
  const query = new URLSearchParams(position as Record<string, string>).toString();
  return query === '' ? url : `${url}?${query}`;
}

const ids = (rules: Array<{ rule_id: string }>) => rules.map((rule) => rule.rule_id);
const userIds = (rules: Rule[]) => ids(rules).filter((id) => !id.startsWith('.'));

describe('push rules', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [alice, bob] = suite.users('alice', 'bob');

  const as = (who: Session) => ({ token: who.access_token });
  const rulesetOf = async (who: Session): Promise<Ruleset> =>
    expectSpec(await api.get(ALL_RULES, as(who)), 'GET', ALL_RULES).global as Ruleset;
  const putRule = (who: Session, kind: string, ruleId: string, body: unknown, position = {}) =>
    api.put(withPosition(ruleUrl(kind, ruleId), position), body, as(who));
  const putOk = async (who: Session, kind: string, ruleId: string, body: unknown, position = {}) =>
    assert.deepEqual(
      expectSpec(await putRule(who, kind, ruleId, body, position), 'PUT', ONE_RULE),
      {},
    );
  const getRule = async (who: Session, kind: string, ruleId: string) =>
    expectSpec(await api.get(ruleUrl(kind, ruleId), as(who)), 'GET', ONE_RULE) as unknown as Rule;

  it('sends the changed rules as m.push_rules global account data in the next sync', async () => {
    const carol = await api.register('syncing-carol');
    const syncOf = async (since?: string) => {
      const query = since ? `?since=${since}&timeout=0` : '';
      const res = await api.get<{
        next_batch: string;
        account_data: { events: { type: string; content: { global: Ruleset } }[] };
      }>(`${CLIENT_V3}/sync${query}`, as(carol));
      assert.equal(res.status, 200);
      return res.body;
    };
    const first = await syncOf();
    const initialRules = first.account_data.events.find((e) => e.type === 'm.push_rules');
    assert.ok(initialRules, 'an initial sync carries m.push_rules');
    assert.deepEqual(initialRules.content.global, await rulesetOf(carol));
    const quiet = await syncOf(first.next_batch);
    assert.deepEqual(quiet.account_data.events, [], 'unchanged rules are not sent again');
    await putOk(carol, 'room', '!muted:localhost', { actions: [] });
    const next = await syncOf(quiet.next_batch);
    const changed = next.account_data.events.find((e) => e.type === 'm.push_rules');
    assert.ok(changed, 'the change is sent');
    assert.deepEqual(userIds(changed.content.global.room!), ['!muted:localhost']);
  });

  describe('the server-default rules', () => {
    it('are served at /pushrules/ (the URL matrix-js-sdk calls) in the spec order', async () => {
      const ruleset = await rulesetOf(alice);
      for (const [kind, expected] of Object.entries(DEFAULT_IDS)) {
        assert.deepEqual(ids(ruleset[kind] ?? []), expected, kind);
      }
    });

    it('are all default, enabled but for .m.rule.master, and name the user where the spec says', async () => {
      const ruleset = await rulesetOf(alice);
      const all = Object.values(ruleset).flat();
      assert.ok(all.every((rule) => rule.default));
      assert.deepEqual(
        all.filter((rule) => !rule.enabled).map((rule) => rule.rule_id),
        ['.m.rule.master'],
      );
      const inviteForMe = ruleset.override!.find((r) => r.rule_id === '.m.rule.invite_for_me')!;
      assert.deepEqual(inviteForMe.conditions![2], {
        kind: 'event_match',
        key: 'state_key',
        pattern: alice.user_id,
      });
      const mention = ruleset.override!.find((r) => r.rule_id === '.m.rule.is_user_mention')!;
      assert.equal(mention.conditions![0]!.value, alice.user_id);
    });

    it('are the same at /pushrules/global/, on r0, and per kind at /pushrules/global/{kind}/', async () => {
      const ruleset = await rulesetOf(alice);
      const global = expectSpec(await api.get(GLOBAL_RULES, as(alice)), 'GET', GLOBAL_RULES);
      assert.deepEqual(global, ruleset);
      const r0 = await api.get('/_matrix/client/r0/pushrules/', as(alice));
      assert.equal(r0.status, 200);
      assert.deepEqual(r0.body, { global: ruleset });
      // A Synapse extension, not in the spec: one kind as an array.
      const underride = await api.get(`${GLOBAL_RULES}underride/`, as(alice));
      assert.equal(underride.status, 200);
      assert.deepEqual(underride.body, ruleset.underride);
    });

    it('are served one by one, with their enabled flag and actions', async () => {
      const master = await getRule(alice, 'override', '.m.rule.master');
      assert.deepEqual(master, {
        rule_id: '.m.rule.master',
        default: true,
        enabled: false,
        conditions: [],
        actions: [],
      });
      const enabled = expectSpec(
        await api.get(ruleUrl('override', '.m.rule.master', 'enabled'), as(alice)),
        'GET',
        ENABLED,
      );
      assert.deepEqual(enabled, { enabled: false });
      const actions = expectSpec(
        await api.get(ruleUrl('underride', '.m.rule.message', 'actions'), as(alice)),
        'GET',
        ACTIONS,
      );
      assert.deepEqual(actions, { actions: ['notify'] });
    });
  });

  describe('paths and access', () => {
    it('serves the listings with their trailing slash only, as Synapse does', async () => {
      for (const path of ['/pushrules', '/pushrules/global', '/pushrules/global/override']) {
        expectError(await api.get(`${CLIENT_V3}${path}`, as(alice)), 404, 'M_UNRECOGNIZED');
      }
      expectError(
        await api.get(`${CLIENT_V3}/pushrules/device/`, as(alice)),
        404,
        'M_UNRECOGNIZED',
      );
    });

    it('requires an access token and refuses guests', async () => {
      expectError(await api.get(ALL_RULES), 401, 'M_MISSING_TOKEN');
      const guest = await api.post(`${CLIENT_V3}/register?kind=guest`, {});
      assert.equal(guest.status, 200, JSON.stringify(guest.body));
      const token = String(guest.body.access_token);
      expectError(await api.get(ALL_RULES, { token }), 403, 'M_GUEST_ACCESS_FORBIDDEN');
    });
  });

  describe('user rules', () => {
    it('mute a room with a room rule whose actions are empty; "dont_notify" means []', async () => {
      const roomId = '!muted:example.org';
      await putOk(alice, 'room', roomId, { actions: ['dont_notify'] });
      assert.deepEqual(await getRule(alice, 'room', roomId), {
        rule_id: roomId,
        default: false,
        enabled: true,
        actions: [],
      });
      await putOk(alice, 'room', '!loud:example.org', { actions: ['notify'] });
      assert.deepEqual(ids((await rulesetOf(alice)).room!), ['!loud:example.org', roomId]);
    });

    it('take the fields of their kind, and rank below .m.rule.master but above the other defaults', async () => {
      const conditions = [{ kind: 'event_match', key: 'content.body', pattern: 'beer' }];
      const sound = { set_tweak: 'sound', value: 'beeroclock.wav' };
      await putOk(bob, 'override', 'beer', { conditions, actions: ['notify', sound] });
      await putOk(bob, 'content', 'cake', { pattern: 'cake*lie', actions: ['notify'] });
      await putOk(bob, 'sender', '@spam:example.org', { actions: [] });
      await putOk(bob, 'underride', 'late', { conditions: [], actions: ['notify'] });

      const ruleset = await rulesetOf(bob);
      assert.deepEqual(ids(ruleset.override!).slice(0, 3), [
        '.m.rule.master',
        'beer',
        '.m.rule.suppress_notices',
      ]);
      assert.deepEqual(ruleset.override![1], {
        rule_id: 'beer',
        default: false,
        enabled: true,
        conditions,
        actions: ['notify', sound],
      });
      assert.deepEqual(ruleset.content, [
        {
          rule_id: 'cake',
          default: false,
          enabled: true,
          pattern: 'cake*lie',
          actions: ['notify'],
        },
      ]);
      assert.deepEqual(ids(ruleset.sender!), ['@spam:example.org']);
      assert.deepEqual(ids(ruleset.underride!).slice(0, 2), ['late', '.m.rule.call']);
    });

    it('go first when created without a position, else where before/after put them', async () => {
      const carol = await api.register('carol');
      const put = (id: string, position = {}) =>
        putOk(carol, 'content', id, { pattern: id, actions: [] }, position);
      const order = async () => ids((await rulesetOf(carol)).content!);
      await put('a');
      await put('b');
      assert.deepEqual(await order(), ['b', 'a']);
      await put('c', { after: 'b' });
      assert.deepEqual(await order(), ['b', 'c', 'a']);
      await put('d', { before: 'a' });
      assert.deepEqual(await order(), ['b', 'c', 'd', 'a']);
      // With both, the rule goes right before `before` (pushrules.yaml).
      await put('e', { before: 'b', after: 'a' });
      assert.deepEqual(await order(), ['e', 'b', 'c', 'd', 'a']);
      // An update moves only when told to.
      await put('c');
      assert.deepEqual(await order(), ['e', 'b', 'c', 'd', 'a']);
      await put('a', { before: 'b' });
      assert.deepEqual(await order(), ['e', 'a', 'b', 'c', 'd']);
    });

    it('refuse before/after naming a server-default or unknown rule with 400 (spec: M_UNKNOWN)', async () => {
      const body = { conditions: [], actions: [] };
      for (const position of [
        { before: '.m.rule.master' },
        { after: '.m.rule.suppress_notices' },
        { before: 'nothing-here' },
      ]) {
        const res = await putRule(alice, 'override', 'placed', body, position);
        expectError(res, 400, 'M_UNKNOWN');
        assertResponseMatchesSpec('PUT', ONE_RULE, 400, res.body);
      }
      expectError(await api.get(ruleUrl('override', 'placed'), as(alice)), 404, 'M_NOT_FOUND');
    });

    it('are refused when malformed', async () => {
      const refusals: Array<[string, string, unknown, string]> = [
        ['override', '.m.rule.master', { conditions: [], actions: [] }, 'M_INVALID_PARAM'],
        ['override', '.mine', { conditions: [], actions: [] }, 'M_INVALID_PARAM'],
        ['override', 'a/b', { conditions: [], actions: [] }, 'M_INVALID_PARAM'],
        ['override', 'a\\b', { conditions: [], actions: [] }, 'M_INVALID_PARAM'],
        ['override', 'no-conditions', { actions: [] }, 'M_MISSING_PARAM'],
        ['override', 'no-actions', { conditions: [] }, 'M_MISSING_PARAM'],
        ['override', 'bad-action', { conditions: [], actions: ['shout'] }, 'M_INVALID_PARAM'],
        ['content', 'no-pattern', { actions: [] }, 'M_MISSING_PARAM'],
        ['room', 'not-a-room', { actions: [] }, 'M_INVALID_PARAM'],
        ['sender', 'not-a-user', { actions: [] }, 'M_INVALID_PARAM'],
        ['bogus', 'x', { actions: [] }, 'M_INVALID_PARAM'],
      ];
      for (const [kind, ruleId, body, errcode] of refusals) {
        const res = await putRule(alice, kind, ruleId, body);
        assert.equal(res.status, 400, `${kind}/${ruleId}: ${JSON.stringify(res.body)}`);
        assertSpecError(res.body, errcode);
      }
      const ruleset = await rulesetOf(alice);
      assert.deepEqual(userIds(ruleset.override!), [], 'no refused rule was stored');
    });

    it('keep their enabled flag when replaced, and can be deleted', async () => {
      await putOk(alice, 'sender', '@noisy:example.org', { actions: ['notify'] });
      const disable = await api.put(
        ruleUrl('sender', '@noisy:example.org', 'enabled'),
        { enabled: false },
        as(alice),
      );
      assert.deepEqual(expectSpec(disable, 'PUT', ENABLED), {});
      await putOk(alice, 'sender', '@noisy:example.org', { actions: [] });
      assert.deepEqual(await getRule(alice, 'sender', '@noisy:example.org'), {
        rule_id: '@noisy:example.org',
        default: false,
        enabled: false,
        actions: [],
      });
      const deleted = await api.delete(
        ruleUrl('sender', '@noisy:example.org'),
        undefined,
        as(alice),
      );
      assert.deepEqual(expectSpec(deleted, 'DELETE', ONE_RULE), {});
      expectError(
        await api.get(ruleUrl('sender', '@noisy:example.org'), as(alice)),
        404,
        'M_NOT_FOUND',
      );
    });

    it("are each user's own", async () => {
      await putOk(alice, 'override', 'alice-only', { conditions: [], actions: [] });
      expectError(await api.get(ruleUrl('override', 'alice-only'), as(bob)), 404, 'M_NOT_FOUND');
      assert.ok(!ids((await rulesetOf(bob)).override!).includes('alice-only'));
    });

    it('all land when one user sends many edits at once', async () => {
      const dave = await api.register('dave');
      const names = Array.from({ length: 20 }, (_, i) => `rule-${i}`);
      const results = await Promise.all(
        names.map((name) => putRule(dave, 'content', name, { pattern: name, actions: [] })),
      );
      assert.deepEqual(
        results.map((res) => res.status),
        names.map(() => 200),
      );
      assert.deepEqual(ids((await rulesetOf(dave)).content!).sort(), [...names].sort());
    });
  });

  describe('enabled and actions', () => {
    it('change server-default rules, which keep their place', async () => {
      const erin = await api.register('erin');
      const enable = await api.put(
        ruleUrl('override', '.m.rule.master', 'enabled'),
        { enabled: true },
        as(erin),
      );
      assert.deepEqual(expectSpec(enable, 'PUT', ENABLED), {});
      const sound = { set_tweak: 'sound', value: 'default' };
      const setActions = await api.put(
        ruleUrl('underride', '.m.rule.message', 'actions'),
        { actions: ['notify', sound, 'coalesce'] },
        as(erin),
      );
      assert.deepEqual(expectSpec(setActions, 'PUT', ACTIONS), {});

      const ruleset = await rulesetOf(erin);
      assert.deepEqual(ids(ruleset.override!), DEFAULT_IDS.override);
      assert.deepEqual(ids(ruleset.underride!), DEFAULT_IDS.underride);
      assert.equal(ruleset.override![0]!.enabled, true);
      const message = ruleset.underride!.find((r) => r.rule_id === '.m.rule.message')!;
      assert.deepEqual(message, {
        rule_id: '.m.rule.message',
        default: true,
        enabled: true,
        conditions: [{ kind: 'event_match', key: 'type', pattern: 'm.room.message' }],
        actions: ['notify', sound],
      });
      const readBack = await api.get(ruleUrl('override', '.m.rule.master', 'enabled'), as(erin));
      assert.deepEqual(expectSpec(readBack, 'GET', ENABLED), { enabled: true });
      // Other users keep the defaults.
      assert.equal((await getRule(alice, 'override', '.m.rule.master')).enabled, false);
    });

    it('accept a bare boolean for enabled, as Synapse does', async () => {
      const url = ruleUrl('override', '.m.rule.reaction', 'enabled');
      assert.equal((await api.put(url, false, as(bob))).status, 200);
      assert.deepEqual((await api.get(url, as(bob))).body, { enabled: false });
      assert.equal((await api.put(url, { enabled: true }, as(bob))).status, 200);
      assert.deepEqual((await api.get(url, as(bob))).body, { enabled: true });
    });

    it('refuse malformed bodies', async () => {
      const enabled = ruleUrl('override', '.m.rule.master', 'enabled');
      expectError(await api.put(enabled, {}, as(alice)), 400, 'M_MISSING_PARAM');
      expectError(await api.put(enabled, { enabled: 'yes' }, as(alice)), 400, 'M_BAD_JSON');
      const actions = ruleUrl('override', '.m.rule.master', 'actions');
      expectError(await api.put(actions, {}, as(alice)), 400, 'M_MISSING_PARAM');
      expectError(await api.put(actions, { actions: 'notify' }, as(alice)), 400, 'M_BAD_JSON');
      expectError(
        await api.put(actions, { actions: ['shout'] }, as(alice)),
        400,
        'M_INVALID_PARAM',
      );
      assert.equal((await getRule(alice, 'override', '.m.rule.master')).enabled, false);
    });
  });

  describe('unknown rules', () => {
    it('are 404 M_NOT_FOUND for every operation on a rule', async () => {
      const missing: Array<[string, string]> = [
        ['override', 'nothing-here'],
        // A default rule under another kind than its own.
        ['override', '.m.rule.call'],
        ['underride', '.m.rule.master'],
      ];
      for (const [kind, ruleId] of missing) {
        const get = await api.get(ruleUrl(kind, ruleId), as(alice));
        expectError(get, 404, 'M_NOT_FOUND');
        assertResponseMatchesSpec('GET', ONE_RULE, 404, get.body);
        for (const attribute of ['enabled', 'actions']) {
          expectError(
            await api.get(ruleUrl(kind, ruleId, attribute), as(alice)),
            404,
            'M_NOT_FOUND',
          );
        }
        const setEnabled = api.put(ruleUrl(kind, ruleId, 'enabled'), { enabled: true }, as(alice));
        expectError(await setEnabled, 404, 'M_NOT_FOUND');
        const setActions = api.put(ruleUrl(kind, ruleId, 'actions'), { actions: [] }, as(alice));
        expectError(await setActions, 404, 'M_NOT_FOUND');
        const del = await api.delete(ruleUrl(kind, ruleId), undefined, as(alice));
        expectError(del, 404, 'M_NOT_FOUND');
        assertResponseMatchesSpec('DELETE', ONE_RULE, 404, del.body);
      }
    });

    it('include server-default rules, which cannot be deleted, and unknown kinds on DELETE', async () => {
      const del = await api.delete(ruleUrl('override', '.m.rule.master'), undefined, as(alice));
      expectError(del, 404, 'M_NOT_FOUND');
      expectError(
        await api.delete(ruleUrl('bogus', 'x'), undefined, as(alice)),
        404,
        'M_NOT_FOUND',
      );
      assert.deepEqual(ids((await rulesetOf(alice)).override!).slice(0, 1), ['.m.rule.master']);
    });

    it('with an unknown kind are 400 M_INVALID_PARAM on GET, as Synapse answers 400', async () => {
      expectError(await api.get(ruleUrl('bogus', 'x'), as(alice)), 400, 'M_INVALID_PARAM');
      expectError(await api.get(`${GLOBAL_RULES}bogus/`, as(alice)), 400, 'M_INVALID_PARAM');
    });
  });
});

/** An in-memory store whose reads answer a turn of the event loop late, as a networked database's would. */
function slowStore(): PushRuleStore {
  const rows = new Map<string, string>();
  return {
    get: async (userId) => {
      const json = rows.get(userId);
      await new Promise((resolve) => setTimeout(resolve, 1));
      return json === undefined ? undefined : (JSON.parse(json) as UserPushRules);
    },
    put: async (userId, rules) => {
      rows.set(userId, JSON.stringify(rules));
    },
  };
}

/** A bus for a service tested alone: a failing listener fails the test. */
function quietBus(): ServerEventBus {
  return new EventBus<ServerEvents>((err) => {
    throw err;
  });
}

describe('PushRuleService', () => {
  // Over HTTP with SQLite, reads are too quick for edits to interleave; a slow store shows the lock.
  it("serialises one user's edits, so concurrent edits lose nothing", async () => {
    const service = new PushRuleService(slowStore(), quietBus(), async () => {});
    const userId = '@zoe:example.org';
    const names = Array.from({ length: 10 }, (_, i) => `rule-${i}`);
    await Promise.all(
      names.map((name) =>
        service.putRule(userId, 'content', name, { pattern: name, actions: [] }, {}),
      ),
    );
    await service.setEnabled(userId, 'override', '.m.rule.master', true);
    const ruleset = await service.ruleset(userId);
    assert.deepEqual(ids(ruleset.content).sort(), [...names].sort());
  });

  it('tells the bus after a change is stored, and not after a refused one', async () => {
    const bus = quietBus();
    const service = new PushRuleService(slowStore(), bus, async () => {});
    const told: string[] = [];
    bus.on('pushRulesChanged', (userId) => told.push(userId));
    await service.setActions('@zoe:example.org', 'underride', '.m.rule.message', []);
    await assert.rejects(service.deleteRule('@zoe:example.org', 'override', 'missing'));
    assert.deepEqual(told, ['@zoe:example.org']);
    assert.deepEqual(
      (await service.rule('@zoe:example.org', 'underride', '.m.rule.message')).actions,
      [],
    );
  });
});

describe('push rules across a restart', () => {
  it('keeps user rules and changes to default rules', async () => {
    await withServer(async ({ api, server }) => {
      const frank = await api.register('frank');
      const token = { token: frank.access_token };
      const put = (url: string, body: unknown) =>
        api.put(url, body, token).then((res) => assert.equal(res.status, 200));
      await put(ruleUrl('room', '!muted:example.org'), { actions: [] });
      await put(ruleUrl('content', 'first'), { pattern: 'one', actions: ['notify'] });
      await put(`${ruleUrl('content', 'second')}?after=first`, { pattern: 'two', actions: [] });
      await put(ruleUrl('override', '.m.rule.master', 'enabled'), { enabled: true });
      const beforeRestart = (await api.get(ALL_RULES, token)).body;

      await server.restart();
      const afterRestart = await api.get(ALL_RULES, token);
      assert.equal(afterRestart.status, 200);
      assert.deepEqual(afterRestart.body, beforeRestart);
      const ruleset = (afterRestart.body as { global: Ruleset }).global;
      assert.deepEqual(ids(ruleset.room!), ['!muted:example.org']);
      assert.deepEqual(ids(ruleset.content!), ['first', 'second']);
      assert.equal(ruleset.override![0]!.enabled, true);
    });
  });
});
