/**
 * The authorization rules of room versions 10, 11 and 12, one `describe` per
 * rule, allowed and refused. Rule numbers are the version's own (v12 shifts
 * every rule after 1 by one, and 10.4+ by one more).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AuthOptions,
  type AuthResult,
  authEventTypesFor,
  authorizeEvent,
  canRedact,
  checkAuthEvents,
  describeRefusal,
  shouldApplyRedaction,
  type SignatureVerifier,
} from '../../src/events/auth-rules.js';
import { splitStateMapKey, stateMapKey } from '../../src/events/auth/auth-state.js';
import type { JsonObject, Pdu, StoredEvent } from '../../src/events/pdu.js';
import {
  namedLevel,
  notificationLevel,
  powerLevelOf,
  requiredLevelForEvent,
} from '../../src/events/power-levels.js';
import { type RoomVersion, roomVersion } from '../../src/events/room-versions.js';

const V10 = roomVersion('10');
const V11 = roomVersion('11');
const V12 = roomVersion('12');
const ALL = [V10, V11, V12];

const ALICE = '@alice:a.example';
const BOB = '@bob:b.example';
const CAROL = '@carol:c.example';
const DAVE = '@dave:a.example';

/** The version's own number for a rule: `old` in v10/v11, `v12` in v12. */
function ruleOf(version: RoomVersion, old: string, v12: string): string {
  return version.id === '12' ? v12 : old;
}

function assertAllowed(result: AuthResult): void {
  assert.deepEqual(result, { allowed: true }, describeRefusal(result));
}

function assertRefused(result: AuthResult, rule: string): void {
  assert.equal(result.allowed, false, `expected rule ${rule} to refuse`);
  if (result.allowed) return;
  assert.equal(result.rule.split(' ')[0], rule, `${result.rule}: ${result.reason}`);
  assert.ok(result.reason.length > 0);
}

let nextId = 0;
function newEventId(): string {
  nextId += 1;
  return `$event${nextId}`;
}

interface EventSpec {
  type: string;
  sender: string;
  content?: JsonObject;
  stateKey?: string;
  prevEvents?: string[];
}

/** A room whose state is set directly (no auth), and a builder for events to check against it. */
class TestRoom {
  readonly state = new Map<string, StoredEvent>();
  readonly create: StoredEvent;
  readonly roomId: string;

  constructor(
    readonly version: RoomVersion,
    createContent: JsonObject = {},
    creator = ALICE,
  ) {
    const createEventId = newEventId();
    this.roomId = version.roomIdFromCreateEvent
      ? `!${createEventId.slice(1)}`
      : `!room:${creator.split(':')[1]}`;
    const content: JsonObject = { room_version: version.id, ...createContent };
    if (!version.creatorIsCreateSender && content.creator === undefined) content.creator = creator;
    const pdu = this.pdu({ type: 'm.room.create', sender: creator, content, stateKey: '' });
    if (version.roomIdFromCreateEvent) delete pdu.room_id;
    pdu.prev_events = [];
    this.create = { eventId: createEventId, pdu };
    this.put(this.create);
  }

  /** Alice creates and joins, with power levels giving her 100 (implicit in v12) and a join rule. */
  static standard(version: RoomVersion, joinRule = 'public'): TestRoom {
    const room = new TestRoom(version);
    room.member(ALICE, 'join');
    room.powerLevels({ users: version.creatorsHaveInfinitePower ? {} : { [ALICE]: 100 } });
    room.joinRule(joinRule);
    return room;
  }

  pdu(spec: EventSpec): Pdu {
    return {
      type: spec.type,
      room_id: this.roomId,
      sender: spec.sender,
      origin_server_ts: 1,
      content: spec.content ?? {},
      ...(spec.stateKey === undefined ? {} : { state_key: spec.stateKey }),
      prev_events: spec.prevEvents ?? ['$previous'],
      auth_events: [],
      depth: 2,
      hashes: { sha256: '' },
      signatures: {},
    };
  }

  put(event: StoredEvent): StoredEvent {
    this.state.set(stateMapKey(event.pdu.type, event.pdu.state_key ?? ''), event);
    return event;
  }

  set(type: string, stateKey: string, content: JsonObject, sender = ALICE): StoredEvent {
    return this.put({ eventId: newEventId(), pdu: this.pdu({ type, sender, content, stateKey }) });
  }

  member(userId: string, membership: string, sender = userId): StoredEvent {
    return this.set('m.room.member', userId, { membership }, sender);
  }

  powerLevels(content: JsonObject): StoredEvent {
    return this.set('m.room.power_levels', '', content);
  }

  joinRule(rule: string): StoredEvent {
    return this.set('m.room.join_rules', '', { join_rule: rule });
  }

  /** Sets `users[userId]` in the current power levels. */
  setLevel(userId: string, level: number): void {
    const content = structuredClone(
      this.state.get(stateMapKey('m.room.power_levels', ''))!.pdu.content,
    );
    (content.users as JsonObject)[userId] = level;
    this.powerLevels(content);
  }

  check(spec: EventSpec, options?: AuthOptions): AuthResult {
    return authorizeEvent(this.pdu(spec), this.state, this.version, options);
  }

  membership(
    sender: string,
    target: string,
    membership: string,
    extra: JsonObject = {},
  ): AuthResult {
    return this.check({
      type: 'm.room.member',
      sender,
      stateKey: target,
      content: { membership, ...extra },
    });
  }
}

const ACCEPTING: SignatureVerifier = { isSignedBy: () => true, isSignedByAnyKey: () => true };
const REFUSING: SignatureVerifier = { isSignedBy: () => false, isSignedByAnyKey: () => false };

function createPdu(version: RoomVersion, content: JsonObject, extra: Partial<Pdu> = {}): Pdu {
  const base: Pdu = {
    type: 'm.room.create',
    sender: ALICE,
    origin_server_ts: 1,
    content: { room_version: version.id, ...content },
    state_key: '',
    prev_events: [],
    auth_events: [],
    depth: 1,
    hashes: { sha256: '' },
    signatures: {},
  };
  if (!version.roomIdFromCreateEvent) base.room_id = '!room:a.example';
  if (!version.creatorIsCreateSender) base.content.creator = ALICE;
  return { ...base, ...extra };
}

describe('rule 1: m.room.create', () => {
  for (const version of ALL) {
    it(`v${version.id}: a well-formed create event is allowed`, () => {
      assertAllowed(authorizeEvent(createPdu(version, {}), new Map(), version));
    });

    it(`v${version.id}: 1.1 refuses prev_events`, () => {
      const pdu = createPdu(version, {}, { prev_events: ['$x'] });
      assertRefused(authorizeEvent(pdu, new Map(), version), '1.1');
    });

    it(`v${version.id}: 1.3 refuses an unrecognised room_version`, () => {
      for (const roomVersionValue of ['9', 'nonsense', 12]) {
        const pdu = createPdu(version, { room_version: roomVersionValue });
        assertRefused(authorizeEvent(pdu, new Map(), version), '1.3');
      }
    });
  }

  for (const version of [V10, V11]) {
    it(`v${version.id}: 1.2 refuses a room_id whose domain is not the sender's`, () => {
      const pdu = createPdu(version, {}, { room_id: '!room:b.example' });
      assertRefused(authorizeEvent(pdu, new Map(), version), '1.2');
    });
  }

  it('v12: 1.2 refuses a create event with a room_id', () => {
    const pdu = createPdu(V12, {}, { room_id: '!room:a.example' });
    assertRefused(authorizeEvent(pdu, new Map(), V12), '1.2');
  });

  it('v10: 1.4 refuses a create event without content.creator; v11 does not need it', () => {
    const withoutCreator = (version: RoomVersion): Pdu => {
      const pdu = createPdu(version, {});
      delete pdu.content.creator;
      return pdu;
    };
    assertRefused(authorizeEvent(withoutCreator(V10), new Map(), V10), '1.4');
    assertAllowed(authorizeEvent(withoutCreator(V11), new Map(), V11));
  });

  it('v12: 1.4 additional_creators must be an array of valid user IDs', () => {
    assertAllowed(authorizeEvent(createPdu(V12, { additional_creators: [BOB] }), new Map(), V12));
    for (const bad of [
      BOB,
      [BOB, 5],
      ['not-a-user'],
      ['@no-server'],
      [`@${'x'.repeat(260)}:a.b`],
    ]) {
      const pdu = createPdu(V12, { additional_creators: bad });
      assertRefused(authorizeEvent(pdu, new Map(), V12), '1.4');
    }
  });

  it('v11: additional_creators is not an auth rule before v12', () => {
    assertAllowed(authorizeEvent(createPdu(V11, { additional_creators: 'x' }), new Map(), V11));
  });
});

describe('rule 2 (v12): the room ID is the create event ID', () => {
  it('v12 refuses an event whose room_id is not the create event', () => {
    const room = TestRoom.standard(V12);
    const pdu = room.pdu({ type: 'm.room.message', sender: ALICE });
    assertAllowed(authorizeEvent(pdu, room.state, V12));
    pdu.room_id = '!other:a.example';
    assertRefused(authorizeEvent(pdu, room.state, V12), '2');
  });

  it('refuses any event when the state has no create event (v10: 2.4, v12: 2)', () => {
    for (const version of ALL) {
      const room = TestRoom.standard(version);
      room.state.delete(stateMapKey('m.room.create', ''));
      const result = room.check({ type: 'm.room.message', sender: ALICE });
      assertRefused(result, ruleOf(version, '2.4', '2'));
    }
  });
});

describe('auth events selection (authEventTypesFor)', () => {
  const pairs = (version: RoomVersion, pdu: Pdu): string[] =>
    authEventTypesFor(pdu, version).map((p) => `${p.type}|${p.stateKey}`);

  it('lists the create event in v10/v11 but not in v12', () => {
    for (const version of ALL) {
      const room = new TestRoom(version);
      const listed = pairs(version, room.pdu({ type: 'm.room.message', sender: BOB }));
      const expected = ['m.room.power_levels|', `m.room.member|${BOB}`];
      if (version.id !== '12') expected.unshift('m.room.create|');
      assert.deepEqual(listed, expected);
    }
  });

  it('a create event has no auth events', () => {
    assert.deepEqual(authEventTypesFor(createPdu(V11, {}), V11), []);
  });

  it('a join lists the target and the join rules; a leave does not list the join rules', () => {
    const room = new TestRoom(V11);
    const join = room.pdu({
      type: 'm.room.member',
      sender: BOB,
      stateKey: BOB,
      content: { membership: 'join' },
    });
    assert.deepEqual(pairs(V11, join), [
      'm.room.create|',
      'm.room.power_levels|',
      `m.room.member|${BOB}`,
      'm.room.join_rules|',
    ]);
    const kick = room.pdu({
      type: 'm.room.member',
      sender: ALICE,
      stateKey: BOB,
      content: { membership: 'leave' },
    });
    assert.deepEqual(pairs(V11, kick), [
      'm.room.create|',
      'm.room.power_levels|',
      `m.room.member|${ALICE}`,
      `m.room.member|${BOB}`,
    ]);
  });

  it('a third-party invite lists its token; a restricted join lists the authorising user', () => {
    const room = new TestRoom(V12);
    const invite = room.pdu({
      type: 'm.room.member',
      sender: ALICE,
      stateKey: BOB,
      content: {
        membership: 'invite',
        third_party_invite: { signed: { mxid: BOB, token: 'tok' } },
      },
    });
    assert.ok(pairs(V12, invite).includes('m.room.third_party_invite|tok'));
    const join = room.pdu({
      type: 'm.room.member',
      sender: BOB,
      stateKey: BOB,
      content: { membership: 'join', join_authorised_via_users_server: DAVE },
    });
    assert.ok(pairs(V12, join).includes(`m.room.member|${DAVE}`));
    // Only a join names an authoriser: on any other membership the key selects nothing.
    const leave = room.pdu({
      type: 'm.room.member',
      sender: BOB,
      stateKey: BOB,
      content: { membership: 'leave', join_authorised_via_users_server: DAVE },
    });
    assert.equal(pairs(V12, leave).includes(`m.room.member|${DAVE}`), false);
  });
});

describe('rule 2 (v12: 3): the auth events themselves', () => {
  function authEventsFor(room: TestRoom, ...keys: [string, string][]): StoredEvent[] {
    return keys.map(([type, stateKey]) => room.state.get(stateMapKey(type, stateKey))!);
  }

  for (const version of ALL) {
    const room = TestRoom.standard(version);
    const message = room.pdu({ type: 'm.room.message', sender: ALICE });
    const base: [string, string][] = [
      ['m.room.power_levels', ''],
      ['m.room.member', ALICE],
    ];
    if (version.authEventsIncludeCreate) base.unshift(['m.room.create', '']);

    it(`v${version.id}: the selected auth events pass`, () => {
      assertAllowed(checkAuthEvents(message, authEventsFor(room, ...base), version));
      const options = { authEvents: authEventsFor(room, ...base) };
      assertAllowed(authorizeEvent(message, room.state, version, options));
    });

    it(`v${version.id}: duplicates are refused (${ruleOf(version, '2.1', '3.1')})`, () => {
      const duplicate = {
        ...room.state.get(stateMapKey('m.room.power_levels', ''))!,
        eventId: '$dup',
      };
      const events = [...authEventsFor(room, ...base), duplicate];
      assertRefused(checkAuthEvents(message, events, version), ruleOf(version, '2.1', '3.1'));
      assertRefused(
        authorizeEvent(message, room.state, version, { authEvents: events }),
        ruleOf(version, '2.1', '3.1'),
      );
    });

    it(`v${version.id}: entries outside the selection are refused (${ruleOf(version, '2.2', '3.2')})`, () => {
      const topic = room.set('m.room.topic', '', { topic: 'x' });
      const events = [...authEventsFor(room, ...base), topic];
      assertRefused(checkAuthEvents(message, events, version), ruleOf(version, '2.2', '3.2'));
    });
  }

  it('v12: the create event among the auth events is refused (3.2)', () => {
    const room = TestRoom.standard(V12);
    const message = room.pdu({ type: 'm.room.message', sender: ALICE });
    const events = authEventsFor(room, ['m.room.create', ''], ['m.room.member', ALICE]);
    assertRefused(checkAuthEvents(message, events, V12), '3.2');
  });

  for (const version of [V10, V11]) {
    it(`v${version.id}: 2.4 refuses auth events without the create event`, () => {
      const room = TestRoom.standard(version);
      const message = room.pdu({ type: 'm.room.message', sender: ALICE });
      const events = authEventsFor(room, ['m.room.member', ALICE]);
      assertRefused(checkAuthEvents(message, events, version), '2.4');
    });
  }

  it('2.5 (v12: 3.5) refuses an auth event from another room in every version', () => {
    for (const version of ALL) {
      const room = TestRoom.standard(version);
      const message = room.pdu({ type: 'm.room.message', sender: ALICE });
      const keys: [string, string][] = [['m.room.member', ALICE]];
      if (version.authEventsIncludeCreate) keys.push(['m.room.create', '']);
      const events = authEventsFor(room, ...keys).map((e) => ({ ...e, pdu: { ...e.pdu } }));
      events[0]!.pdu.room_id = '!elsewhere:a.example';
      assertRefused(checkAuthEvents(message, events, version), ruleOf(version, '2.5', '3.5'));
    }
  });
});

describe('rule 3 (v12: 4): m.federate', () => {
  for (const version of ALL) {
    it(`v${version.id}: users of other servers are refused when m.federate is false`, () => {
      const room = new TestRoom(version, { 'm.federate': false });
      room.member(ALICE, 'join');
      room.joinRule('public');
      assertRefused(room.membership(BOB, BOB, 'join'), ruleOf(version, '3', '4'));
      assertAllowed(room.membership(DAVE, DAVE, 'join'));
    });
  }
});

describe('rule 4 (v12: 5): m.room.member', () => {
  for (const version of ALL) {
    const r = (old: string): string => ruleOf(version, old, `5${old.slice(1)}`);

    describe(`v${version.id}`, () => {
      it('4.1 refuses a member event without membership', () => {
        const room = TestRoom.standard(version);
        const result = room.check({
          type: 'm.room.member',
          sender: BOB,
          stateKey: BOB,
          content: {},
        });
        assertRefused(result, r('4.1'));
      });

      it('4.2.1 refuses join_authorised_via_users_server without a valid signature', () => {
        const room = TestRoom.standard(version);
        const spec = {
          type: 'm.room.member',
          sender: BOB,
          stateKey: BOB,
          content: { membership: 'join', join_authorised_via_users_server: ALICE },
        };
        assertRefused(room.check(spec), r('4.2.1'));
        assertRefused(room.check(spec, { verifier: REFUSING }), r('4.2.1'));
        assertAllowed(room.check(spec, { verifier: ACCEPTING }));
      });

      it("4.3.1 allows the creator's first join right after the create event only", () => {
        const room = new TestRoom(version);
        const first = {
          type: 'm.room.member',
          sender: ALICE,
          stateKey: ALICE,
          content: { membership: 'join' },
        };
        assertAllowed(room.check({ ...first, prevEvents: [room.create.eventId] }));
        assertRefused(room.check({ ...first, prevEvents: ['$other'] }), r('4.3.7'));
        const bobFirst = {
          ...first,
          sender: BOB,
          stateKey: BOB,
          prevEvents: [room.create.eventId],
        };
        assertRefused(room.check(bobFirst), r('4.3.7'));
      });

      it('4.3.2 refuses joining someone else', () => {
        const room = TestRoom.standard(version);
        assertRefused(room.membership(ALICE, BOB, 'join'), r('4.3.2'));
      });

      it('4.3.3 refuses a banned user, even in a public room', () => {
        const room = TestRoom.standard(version, 'public');
        room.member(BOB, 'ban', ALICE);
        assertRefused(room.membership(BOB, BOB, 'join'), r('4.3.3'));
      });

      for (const rule of ['invite', 'knock']) {
        it(`4.3.4 join rule ${rule}: allows the invited and joined, refuses others (4.3.7)`, () => {
          const room = TestRoom.standard(version, rule);
          assertRefused(room.membership(BOB, BOB, 'join'), r('4.3.7'));
          room.member(BOB, 'invite', ALICE);
          assertAllowed(room.membership(BOB, BOB, 'join'));
          room.member(BOB, 'join');
          assertAllowed(room.membership(BOB, BOB, 'join'));
        });
      }

      for (const rule of ['restricted', 'knock_restricted']) {
        describe(`4.3.5 join rule ${rule}`, () => {
          const withAuthoriser = (room: TestRoom, authoriser: string): AuthResult =>
            room.check(
              {
                type: 'm.room.member',
                sender: BOB,
                stateKey: BOB,
                content: { membership: 'join', join_authorised_via_users_server: authoriser },
              },
              { verifier: ACCEPTING },
            );

          it('4.3.5.1 allows the invited without an authoriser', () => {
            const room = TestRoom.standard(version, rule);
            room.member(BOB, 'invite', ALICE);
            assertAllowed(room.membership(BOB, BOB, 'join'));
          });

          it('4.3.5.3 allows a join authorised by a joined user with the invite level', () => {
            const room = TestRoom.standard(version, rule);
            assertAllowed(withAuthoriser(room, ALICE));
          });

          it('4.3.5.2 refuses without an authoriser, or one who cannot invite', () => {
            const room = TestRoom.standard(version, rule);
            assertRefused(room.membership(BOB, BOB, 'join'), r('4.3.5.2'));
            room.member(DAVE, 'join');
            room.powerLevels({
              users: version.creatorsHaveInfinitePower
                ? { [CAROL]: 50 }
                : { [ALICE]: 100, [CAROL]: 50 },
              invite: 50,
            });
            assertAllowed(withAuthoriser(room, ALICE));
            assertRefused(withAuthoriser(room, DAVE), r('4.3.5.2')); // below the invite level
            room.member(CAROL, 'leave');
            assertRefused(withAuthoriser(room, CAROL), r('4.3.5.2')); // has the level, not joined
            room.member(CAROL, 'join');
            assertAllowed(withAuthoriser(room, CAROL));
          });
        });
      }

      it('4.3.6 allows anyone into a public room', () => {
        assertAllowed(TestRoom.standard(version, 'public').membership(BOB, BOB, 'join'));
      });

      it('4.3.7 refuses other join rules (private, unknown)', () => {
        for (const rule of ['private', 'whatever']) {
          const room = TestRoom.standard(version, rule);
          room.member(BOB, 'invite', ALICE);
          assertRefused(room.membership(BOB, BOB, 'join'), r('4.3.7'));
        }
      });

      describe('invite', () => {
        it('4.4.2 refuses a sender who is not joined', () => {
          const room = TestRoom.standard(version);
          room.member(DAVE, 'invite', ALICE);
          assertRefused(room.membership(DAVE, BOB, 'invite'), r('4.4.2'));
        });

        it('4.4.3 refuses a target who is joined or banned', () => {
          const room = TestRoom.standard(version);
          room.member(BOB, 'join');
          assertRefused(room.membership(ALICE, BOB, 'invite'), r('4.4.3'));
          room.member(BOB, 'ban', ALICE);
          assertRefused(room.membership(ALICE, BOB, 'invite'), r('4.4.3'));
        });

        it('4.4.4 allows the invite level; 4.4.5 refuses below it', () => {
          const room = TestRoom.standard(version);
          room.member(DAVE, 'join');
          assertAllowed(room.membership(DAVE, BOB, 'invite')); // invite defaults to 0
          room.powerLevels({
            users: version.creatorsHaveInfinitePower ? {} : { [ALICE]: 100 },
            invite: 10,
          });
          assertRefused(room.membership(DAVE, BOB, 'invite'), r('4.4.5'));
          room.setLevel(DAVE, 10);
          assertAllowed(room.membership(DAVE, BOB, 'invite'));
        });
      });

      describe('4.4.1 third-party invite', () => {
        const setup = (): TestRoom => {
          const room = TestRoom.standard(version);
          room.set('m.room.third_party_invite', 'tok', {
            public_keys: [{ public_key: 'k1' }],
            public_key: 'k0',
          });
          return room;
        };
        const invite = (
          room: TestRoom,
          tpi: JsonObject,
          verifier: SignatureVerifier | 'none' = ACCEPTING,
          sender = ALICE,
        ) =>
          room.check(
            {
              type: 'm.room.member',
              sender,
              stateKey: BOB,
              content: { membership: 'invite', third_party_invite: tpi },
            },
            verifier === 'none' ? {} : { verifier },
          );
        const good = { signed: { mxid: BOB, token: 'tok', signatures: {} } };

        it('4.4.1.7 allows a signed invite matching a public key', () => {
          let seenKeys: readonly string[] = [];
          const verifier: SignatureVerifier = {
            isSignedBy: () => false,
            isSignedByAnyKey: (_signed, keys) => {
              seenKeys = keys;
              return true;
            },
          };
          assertAllowed(invite(setup(), good, verifier));
          assert.deepEqual(seenKeys, ['k0', 'k1']);
        });

        it('4.4.1.1 refuses a banned target', () => {
          const room = setup();
          room.member(BOB, 'ban', ALICE);
          assertRefused(invite(room, good), r('4.4.1.1'));
        });

        it('4.4.1.2–4 refuse a missing signed, missing mxid/token, or mxid not the state_key', () => {
          assertRefused(invite(setup(), {}), r('4.4.1.2'));
          assertRefused(invite(setup(), { signed: { token: 'tok' } }), r('4.4.1.3'));
          assertRefused(invite(setup(), { signed: { mxid: CAROL, token: 'tok' } }), r('4.4.1.4'));
        });

        it('4.4.1.5 refuses an unknown token; 4.4.1.6 a different sender', () => {
          assertRefused(invite(setup(), { signed: { mxid: BOB, token: 'other' } }), r('4.4.1.5'));
          const room = setup();
          room.member(DAVE, 'join');
          assertRefused(invite(room, good, ACCEPTING, DAVE), r('4.4.1.6'));
        });

        it('4.4.1.8 refuses a bad signature or no verifier', () => {
          assertRefused(invite(setup(), good, REFUSING), r('4.4.1.8'));
          assertRefused(invite(setup(), good, 'none'), r('4.4.1.8'));
        });
      });

      describe('leave', () => {
        it('4.5.1 lets a user leave from invite, join or knock, and nothing else', () => {
          const room = TestRoom.standard(version);
          for (const membership of ['invite', 'join', 'knock']) {
            room.member(BOB, membership, ALICE);
            assertAllowed(room.membership(BOB, BOB, 'leave'));
          }
          for (const membership of ['leave', 'ban']) {
            room.member(BOB, membership, ALICE);
            assertRefused(room.membership(BOB, BOB, 'leave'), r('4.5.1'));
          }
          room.state.delete(stateMapKey('m.room.member', BOB));
          assertRefused(room.membership(BOB, BOB, 'leave'), r('4.5.1'));
        });

        it('4.5.2 refuses a kick by a sender who is not joined', () => {
          const room = TestRoom.standard(version);
          room.member(BOB, 'join');
          room.member(DAVE, 'leave');
          assertRefused(room.membership(DAVE, BOB, 'leave'), r('4.5.2'));
        });

        it('4.5.3 refuses an unban below the ban level', () => {
          const room = TestRoom.standard(version);
          room.member(DAVE, 'join');
          room.member(BOB, 'ban', ALICE);
          room.powerLevels({
            users: version.creatorsHaveInfinitePower
              ? { [DAVE]: 60 }
              : { [ALICE]: 100, [DAVE]: 60 },
            ban: 70,
            kick: 50,
          });
          assertRefused(room.membership(DAVE, BOB, 'leave'), r('4.5.3'));
          room.setLevel(DAVE, 70);
          assertAllowed(room.membership(DAVE, BOB, 'leave'));
        });

        it('4.5.4 allows a kick with the kick level over a lower target; 4.5.5 refuses otherwise', () => {
          const room = TestRoom.standard(version);
          room.member(BOB, 'join');
          room.member(DAVE, 'join');
          assertAllowed(room.membership(ALICE, BOB, 'leave'));
          room.setLevel(DAVE, 40);
          assertRefused(room.membership(DAVE, BOB, 'leave'), r('4.5.5')); // below kick (50)
          room.setLevel(DAVE, 50);
          room.setLevel(BOB, 50);
          assertRefused(room.membership(DAVE, BOB, 'leave'), r('4.5.5')); // equal to target
          room.setLevel(BOB, 49);
          assertAllowed(room.membership(DAVE, BOB, 'leave'));
        });
      });

      describe('ban', () => {
        it('4.6.1 refuses a sender who is not joined', () => {
          const room = TestRoom.standard(version);
          room.member(DAVE, 'invite', ALICE);
          assertRefused(room.membership(DAVE, BOB, 'ban'), r('4.6.1'));
        });

        it('4.6.2 allows the ban level over a lower target; 4.6.3 refuses otherwise', () => {
          const room = TestRoom.standard(version);
          room.member(DAVE, 'join');
          assertAllowed(room.membership(ALICE, BOB, 'ban')); // target need not be in the room
          assertRefused(room.membership(DAVE, BOB, 'ban'), r('4.6.3'));
          room.setLevel(DAVE, 50);
          room.setLevel(BOB, 50);
          assertRefused(room.membership(DAVE, BOB, 'ban'), r('4.6.3'));
          room.setLevel(BOB, 0);
          assertAllowed(room.membership(DAVE, BOB, 'ban'));
        });
      });

      describe('knock', () => {
        it('4.7.1 refuses unless the join rule is knock or knock_restricted', () => {
          for (const rule of ['public', 'invite', 'restricted']) {
            assertRefused(
              TestRoom.standard(version, rule).membership(BOB, BOB, 'knock'),
              r('4.7.1'),
            );
          }
          for (const rule of ['knock', 'knock_restricted']) {
            assertAllowed(TestRoom.standard(version, rule).membership(BOB, BOB, 'knock'));
          }
        });

        it('4.7.2 refuses knocking for someone else', () => {
          assertRefused(
            TestRoom.standard(version, 'knock').membership(ALICE, BOB, 'knock'),
            r('4.7.2'),
          );
        });

        it('4.7.3 allows after leaving; 4.7.4 refuses the banned, invited and joined', () => {
          const room = TestRoom.standard(version, 'knock');
          room.member(BOB, 'leave');
          assertAllowed(room.membership(BOB, BOB, 'knock'));
          for (const membership of ['ban', 'invite', 'join']) {
            room.member(BOB, membership, ALICE);
            assertRefused(room.membership(BOB, BOB, 'knock'), r('4.7.4'));
          }
        });
      });

      it('4.8 refuses an unknown membership', () => {
        assertRefused(TestRoom.standard(version).membership(BOB, BOB, 'wave'), r('4.8'));
      });
    });
  }

  it('v12: creators outrank everyone: they can kick and ban a user at 100, not the reverse', () => {
    const room = TestRoom.standard(V12);
    room.member(BOB, 'join');
    room.setLevel(BOB, 100);
    assertAllowed(room.membership(ALICE, BOB, 'ban'));
    assertRefused(room.membership(BOB, ALICE, 'leave'), '5.5.5');
    assertRefused(room.membership(BOB, ALICE, 'ban'), '5.6.3');
  });

  it('v12: only the create sender, not an additional creator, has the first-join exception', () => {
    const room = new TestRoom(V12, { additional_creators: [BOB] });
    const join = (user: string): AuthResult =>
      room.check({
        type: 'm.room.member',
        sender: user,
        stateKey: user,
        content: { membership: 'join' },
        prevEvents: [room.create.eventId],
      });
    assertAllowed(join(ALICE));
    assertRefused(join(BOB), '5.3.7');
  });
});

describe('rule 5 (v12: 6): the sender must be joined', () => {
  for (const version of ALL) {
    it(`v${version.id}: refuses events from users who are not joined`, () => {
      const room = TestRoom.standard(version);
      assertAllowed(room.check({ type: 'm.room.message', sender: ALICE }));
      assertRefused(room.check({ type: 'm.room.message', sender: BOB }), ruleOf(version, '5', '6'));
      room.member(BOB, 'invite', ALICE);
      assertRefused(room.check({ type: 'm.room.message', sender: BOB }), ruleOf(version, '5', '6'));
    });
  }
});

describe('rule 6 (v12: 7): m.room.third_party_invite', () => {
  for (const version of ALL) {
    it(`v${version.id}: needs the invite level`, () => {
      const room = TestRoom.standard(version);
      room.member(DAVE, 'join');
      const spec = {
        type: 'm.room.third_party_invite',
        sender: DAVE,
        stateKey: 'tok',
        content: {},
      };
      assertAllowed(room.check(spec));
      room.powerLevels({
        users: version.creatorsHaveInfinitePower ? {} : { [ALICE]: 100 },
        invite: 1,
      });
      assertRefused(room.check(spec), ruleOf(version, '6.1', '7.1'));
    });
  }
});

describe('rule 7 (v12: 8): the required power level', () => {
  for (const version of ALL) {
    const rule = ruleOf(version, '7', '8');

    it(`v${version.id}: events_default, state_default and events apply`, () => {
      const room = TestRoom.standard(version);
      room.member(DAVE, 'join');
      assertAllowed(room.check({ type: 'm.room.message', sender: DAVE }));
      assertRefused(room.check({ type: 'm.room.topic', sender: DAVE, stateKey: '' }), rule);
      room.powerLevels({
        users: { [DAVE]: 50 },
        events_default: 60,
        events: { 'm.room.topic': 51 },
      });
      assertRefused(room.check({ type: 'm.room.message', sender: DAVE }), rule);
      assertRefused(room.check({ type: 'm.room.topic', sender: DAVE, stateKey: '' }), rule);
      assertAllowed(room.check({ type: 'm.room.name', sender: DAVE, stateKey: '' }));
    });

    it(`v${version.id}: without power levels, state needs 50: the creator may send it, others not`, () => {
      const room = new TestRoom(version);
      room.member(ALICE, 'join');
      room.member(DAVE, 'join');
      assertAllowed(room.check({ type: 'm.room.topic', sender: ALICE, stateKey: '' }));
      assertRefused(room.check({ type: 'm.room.topic', sender: DAVE, stateKey: '' }), rule);
      assertAllowed(room.check({ type: 'm.room.message', sender: DAVE }));
    });

    it(`v${version.id}: redactions are checked like any event; the redact level is not`, () => {
      const room = TestRoom.standard(version);
      room.member(DAVE, 'join');
      const redaction = { type: 'm.room.redaction', sender: DAVE, content: { redacts: '$x' } };
      assertAllowed(room.check(redaction));
      room.powerLevels({ events: { 'm.room.redaction': 10 } });
      assertRefused(room.check(redaction), rule);
    });
  }
});

describe('rule 8 (v12: 9): state keys starting with @', () => {
  for (const version of ALL) {
    it(`v${version.id}: only that user may send them`, () => {
      const room = TestRoom.standard(version);
      assertAllowed(room.check({ type: 'org.example.x', sender: ALICE, stateKey: ALICE }));
      assertRefused(
        room.check({ type: 'org.example.x', sender: ALICE, stateKey: BOB }),
        ruleOf(version, '8', '9'),
      );
      assertAllowed(room.check({ type: 'org.example.x', sender: ALICE, stateKey: 'plain' }));
    });
  }
});

describe('rule 9 (v12: 10): m.room.power_levels', () => {
  for (const version of ALL) {
    const r = (old: string): string => {
      if (version.id !== '12') return old;
      const [, sub, ...rest] = old.split('.');
      const shifted = Number(sub) >= 4 ? Number(sub) + 1 : Number(sub);
      return ['10', shifted, ...rest].join('.');
    };
    const creatorUsers = (users: JsonObject): JsonObject =>
      version.creatorsHaveInfinitePower ? users : { [ALICE]: 100, ...users };
    const send = (room: TestRoom, sender: string, content: JsonObject): AuthResult =>
      room.check({ type: 'm.room.power_levels', sender, stateKey: '', content });

    describe(`v${version.id}`, () => {
      it('9.1 refuses non-integer top-level levels', () => {
        const room = TestRoom.standard(version);
        for (const bad of ['50', 50.5, null, true]) {
          assertRefused(send(room, ALICE, { users: creatorUsers({}), kick: bad }), r('9.1'));
        }
        assertAllowed(send(room, ALICE, { users: creatorUsers({}), kick: 40 }));
      });

      it('9.2 refuses events or notifications that are not maps of integers', () => {
        const room = TestRoom.standard(version);
        assertRefused(send(room, ALICE, { events: { 'm.room.name': '50' } }), r('9.2'));
        assertRefused(send(room, ALICE, { notifications: 50 }), r('9.2'));
        assertRefused(send(room, ALICE, { events: [] }), r('9.2'));
      });

      it('9.3 refuses users that are not valid user IDs mapped to integers', () => {
        const room = TestRoom.standard(version);
        assertRefused(send(room, ALICE, { users: creatorUsers({ bob: 10 }) }), r('9.3'));
        assertRefused(send(room, ALICE, { users: creatorUsers({ [BOB]: '10' }) }), r('9.3'));
        assertRefused(send(room, ALICE, { users: [] }), r('9.3'));
      });

      it('9.4 allows the first power levels event (from one with the state level, 50)', () => {
        const room = new TestRoom(version);
        room.member(ALICE, 'join');
        room.member(DAVE, 'join');
        assertAllowed(send(room, ALICE, { users: creatorUsers({ [DAVE]: 1000 }) }));
        // Anyone else could take the room over: rule 7 (v12: 8) refuses it first.
        assertRefused(send(room, DAVE, { users: { [DAVE]: 1000 } }), ruleOf(version, '7', '8'));
      });

      it('9.5 refuses changing a level above, or to above, the sender', () => {
        const room = TestRoom.standard(version);
        room.member(DAVE, 'join');
        room.powerLevels({ users: creatorUsers({ [DAVE]: 50 }), ban: 60, kick: 50 });
        const base = { users: creatorUsers({ [DAVE]: 50 }), ban: 60, kick: 50 };
        assertRefused(send(room, DAVE, { ...base, ban: 40 }), r('9.5.1'));
        assertRefused(send(room, DAVE, { ...base, kick: 51 }), r('9.5.2'));
        assertRefused(send(room, DAVE, { ...base, redact: 51 }), r('9.5.2')); // added
        assertAllowed(send(room, DAVE, { ...base, kick: 20 }));
        const withoutKick: JsonObject = { ...base };
        delete withoutKick.kick;
        assertAllowed(send(room, DAVE, withoutKick));
      });

      it('9.6 / 9.7 refuse changing events entries above the sender, or to above', () => {
        const room = TestRoom.standard(version);
        room.member(DAVE, 'join');
        const base = {
          users: creatorUsers({ [DAVE]: 50 }),
          events: { 'm.room.name': 60, 'm.room.topic': 10 },
        };
        room.powerLevels(base);
        assertRefused(send(room, DAVE, { ...base, events: { 'm.room.topic': 10 } }), r('9.6.1'));
        assertRefused(
          send(room, DAVE, { ...base, events: { ...base.events, 'm.x': 51 } }),
          r('9.7.1'),
        );
        assertRefused(send(room, DAVE, { ...base, notifications: { room: 51 } }), r('9.7.1'));
        assertAllowed(
          send(room, DAVE, { ...base, events: { ...base.events, 'm.room.topic': 50 } }),
        );
      });

      it("9.8 refuses changing another user at or above the sender; the sender's own entry may drop", () => {
        const room = TestRoom.standard(version);
        room.member(DAVE, 'join');
        const base = { users: creatorUsers({ [DAVE]: 50, [BOB]: 50, [CAROL]: 10 }) };
        room.powerLevels(base);
        assertRefused(
          send(room, DAVE, { users: creatorUsers({ [DAVE]: 50, [BOB]: 40, [CAROL]: 10 }) }),
          r('9.8.1'),
        );
        assertRefused(
          send(room, DAVE, { users: creatorUsers({ [DAVE]: 50, [CAROL]: 10 }) }),
          r('9.8.1'),
        );
        assertAllowed(
          send(room, DAVE, { users: creatorUsers({ [DAVE]: 20, [BOB]: 50, [CAROL]: 10 }) }),
        );
        assertAllowed(send(room, DAVE, { users: creatorUsers({ [DAVE]: 50, [BOB]: 50 }) }));
      });

      it('9.9 refuses raising anyone above the sender', () => {
        const room = TestRoom.standard(version);
        room.member(DAVE, 'join');
        const base = { users: creatorUsers({ [DAVE]: 50 }) };
        room.powerLevels(base);
        assertRefused(
          send(room, DAVE, { users: creatorUsers({ [DAVE]: 50, [CAROL]: 51 }) }),
          r('9.9.1'),
        );
        assertRefused(send(room, DAVE, { users: creatorUsers({ [DAVE]: 51 }) }), r('9.9.1'));
        assertAllowed(send(room, DAVE, { users: creatorUsers({ [DAVE]: 50, [CAROL]: 50 }) }));
      });
    });
  }

  it('v12: 10.4 refuses creators (sender and additional) in users', () => {
    const room = new TestRoom(V12, { additional_creators: [BOB] });
    room.member(ALICE, 'join');
    room.powerLevels({});
    const send = (users: JsonObject): AuthResult =>
      room.check({ type: 'm.room.power_levels', sender: ALICE, stateKey: '', content: { users } });
    assertRefused(send({ [ALICE]: 100 }), '10.4');
    assertRefused(send({ [BOB]: 100 }), '10.4');
    assertAllowed(send({ [CAROL]: 100 }));
  });

  it('v11: listing the creator in users is normal', () => {
    const room = TestRoom.standard(V11);
    const content = { users: { [ALICE]: 100, [BOB]: 100 } };
    assertAllowed(
      room.check({ type: 'm.room.power_levels', sender: ALICE, stateKey: '', content }),
    );
  });

  it('v12: a creator may change users at any level; a user at 100 may not change another at 100', () => {
    const room = TestRoom.standard(V12);
    room.member(BOB, 'join');
    room.powerLevels({ users: { [BOB]: 100, [CAROL]: 100 } });
    const send = (sender: string, users: JsonObject): AuthResult =>
      room.check({ type: 'm.room.power_levels', sender, stateKey: '', content: { users } });
    assertAllowed(send(ALICE, { [BOB]: 0, [CAROL]: 1_000_000 }));
    assertRefused(send(BOB, { [BOB]: 100, [CAROL]: 0 }), '10.9.1');
  });
});

describe('rule 10 (v12: 11): anything else is allowed', () => {
  for (const version of ALL) {
    it(`v${version.id}: an ordinary state event from a member with the level passes`, () => {
      assertAllowed(
        TestRoom.standard(version).check({ type: 'm.room.name', sender: ALICE, stateKey: '' }),
      );
    });
  }
});

describe('power levels', () => {
  it('without a power levels event: the creator has 100 (v10, v11) or infinite power (v12), others 0', () => {
    for (const version of ALL) {
      const room = new TestRoom(
        version,
        version.additionalCreators ? { additional_creators: [BOB] } : {},
      );
      const expected = version.creatorsHaveInfinitePower ? Infinity : 100;
      assert.equal(powerLevelOf(ALICE, room.state, version), expected);
      assert.equal(
        powerLevelOf(BOB, room.state, version),
        version.additionalCreators ? Infinity : 0,
      );
      assert.equal(powerLevelOf(CAROL, room.state, version), 0);
    }
  });

  it('v10 reads the creator from content.creator, v11 from the sender', () => {
    const v10 = new TestRoom(V10, { creator: BOB });
    assert.equal(powerLevelOf(BOB, v10.state, V10), 100);
    assert.equal(powerLevelOf(ALICE, v10.state, V10), 0);
    const v11 = new TestRoom(V11, { creator: BOB });
    assert.equal(powerLevelOf(ALICE, v11.state, V11), 100);
    assert.equal(powerLevelOf(BOB, v11.state, V11), 0);
  });

  it('reads users, then users_default; non-integers fall back to the default', () => {
    const room = new TestRoom(V11);
    room.powerLevels({ users: { [BOB]: 42, [CAROL]: '42' }, users_default: 5 });
    assert.equal(powerLevelOf(BOB, room.state, V11), 42);
    assert.equal(powerLevelOf(CAROL, room.state, V11), 5);
    assert.equal(powerLevelOf(ALICE, room.state, V11), 5); // the power levels event replaces the creator default
  });

  it('v12 creators keep infinite power whatever the power levels say', () => {
    const room = new TestRoom(V12);
    room.powerLevels({ users: { [ALICE]: 0 }, users_default: 0 });
    assert.equal(powerLevelOf(ALICE, room.state, V12), Infinity);
  });

  it('defaults: invite 0, kick/ban/redact 50, state_default 50 (with or without an event), events_default 0', () => {
    const bare = new TestRoom(V11);
    assert.equal(requiredLevelForEvent('m.room.topic', true, bare.state, V11), 50);
    assert.equal(requiredLevelForEvent('m.room.message', false, bare.state, V11), 0);
    const room = new TestRoom(V11);
    room.powerLevels({});
    assert.equal(requiredLevelForEvent('m.room.topic', true, room.state, V11), 50);
    assert.equal(requiredLevelForEvent('m.room.message', false, room.state, V11), 0);
    assert.equal(namedLevel('invite', room.state, V11), 0);
    for (const name of ['kick', 'ban', 'redact'] as const)
      assert.equal(namedLevel(name, room.state, V11), 50);
    assert.equal(notificationLevel('room', room.state, V11), 50);
  });

  it('events overrides the defaults; notifications are read', () => {
    const room = new TestRoom(V12);
    room.powerLevels({
      events: { 'm.room.message': 7, 'm.room.tombstone': 150 },
      notifications: { room: 3 },
    });
    assert.equal(requiredLevelForEvent('m.room.message', false, room.state, V12), 7);
    assert.equal(requiredLevelForEvent('m.room.tombstone', true, room.state, V12), 150);
    assert.equal(notificationLevel('room', room.state, V12), 3);
  });
});

describe('redactions after the auth rules', () => {
  const room = TestRoom.standard(V11);
  room.powerLevels({ users: { [ALICE]: 100, [CAROL]: 50 }, redact: 50 });

  it('canRedact: own events always, others only with the redact level', () => {
    assertAllowed(canRedact(BOB, BOB, room.state, V11));
    assertRefused(canRedact(BOB, DAVE, room.state, V11), 'redaction:');
    assertAllowed(canRedact(CAROL, DAVE, room.state, V11));
  });

  it('shouldApplyRedaction: the redact level, or the same server', () => {
    assert.equal(shouldApplyRedaction({ sender: CAROL }, { sender: BOB }, room.state, V11), true);
    assert.equal(shouldApplyRedaction({ sender: DAVE }, { sender: ALICE }, room.state, V11), true);
    assert.equal(shouldApplyRedaction({ sender: DAVE }, { sender: BOB }, room.state, V11), false);
  });

  it('v12: a creator can redact anything', () => {
    const v12 = TestRoom.standard(V12);
    v12.powerLevels({ redact: 1_000_000 });
    assertAllowed(canRedact(ALICE, BOB, v12.state, V12));
  });
});

describe('state map keys', () => {
  it('keep any two (type, state_key) pairs apart and give both back', () => {
    const pairs: [string, string][] = [
      ['m.room.member', '@a:b'],
      ['m.room.member:', '@a:b'],
      ['m.room.member', ':@a:b'],
      ['a\u0000b', ''],
      ['a', '\u0000b'],
      ['', ''],
      ['12:x', 'y'],
      ['m.room.name', '😀'],
    ];
    const keys = pairs.map(([type, stateKey]) => stateMapKey(type, stateKey));
    assert.equal(new Set(keys).size, pairs.length);
    for (const [i, key] of keys.entries()) {
      const [type, stateKey] = pairs[i]!;
      assert.deepEqual(splitStateMapKey(key), { type, stateKey });
    }
  });
});
