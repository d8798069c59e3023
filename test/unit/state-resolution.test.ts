/**
 * State resolution v2 and v2.1 with real hashed and signed events: Synapse's
 * classic graphs (tests/state/test_v2.py: each event's state before is the
 * resolution of its prev events' states after, its auth events chosen from
 * it), MSC4297's two problems where v2 and v2.1 differ, a room of 5,000
 * members, and the auth chain export.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authEventTypesFor, stateMapKey } from '../../src/events/auth-rules.js';
import { eventIdFromReferenceHash, roomIdFor } from '../../src/events/hashing.js';
import type { JsonObject, Pdu, StoredEvent } from '../../src/events/pdu.js';
import { type RoomVersion, roomVersion } from '../../src/events/room-versions.js';
import { sealEvent, signingKeyFromSeed } from '../../src/events/signing.js';
import { authChain, resolveState, stateAfter } from '../../src/events/state-resolution.js';

const V10 = roomVersion('10');
const V11 = roomVersion('11');
const V12 = roomVersion('12');
const ALL = [V10, V11, V12];

const SERVER = 'example.com';
const KEY = signingKeyFromSeed('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1', 'ed25519:1');
const ALICE = `@alice:${SERVER}`;
const BOB = `@bob:${SERVER}`;
const CHARLIE = `@charlie:${SERVER}`;
const EVELYN = `@evelyn:${SERVER}`;
const ZARA = `@zara:${SERVER}`;

const CREATE = 'm.room.create';
const MEMBER = 'm.room.member';
const POWER_LEVELS = 'm.room.power_levels';
const JOIN_RULES = 'm.room.join_rules';
const TOPIC = 'm.room.topic';
const MESSAGE = 'm.room.message';

interface Spec {
  label: string;
  sender: string;
  type: string;
  stateKey?: string;
  content?: JsonObject;
}

const join = (label: string, user: string): Spec => ({
  label,
  sender: user,
  type: MEMBER,
  stateKey: user,
  content: { membership: 'join' },
});

/**
 * `users` of a power levels event: in v12 the creator (Alice) has infinite
 * power and must not be listed (rule 10.4), elsewhere she keeps her 100.
 */
function powerLevels(version: RoomVersion, users: Record<string, number>): JsonObject {
  const listed: Record<string, number> = { [ALICE]: 100, ...users };
  if (version.creatorsHaveInfinitePower) delete listed[ALICE];
  return { users: listed };
}

/** The events of one room, hashed and signed, held for `loadEvents`. */
class Room {
  readonly events = new Map<string, StoredEvent>();
  readonly byLabel = new Map<string, StoredEvent>();
  roomId = '';
  loadCalls = 0;
  idsRequested = 0;
  private ts = 0;

  constructor(readonly version: RoomVersion) {}

  readonly loadEvents = (ids: string[]): Promise<StoredEvent[]> => {
    this.loadCalls += 1;
    this.idsRequested += ids.length;
    return Promise.resolve(ids.flatMap((id) => this.events.get(id) ?? []));
  };

  id(label: string): string {
    const event = this.byLabel.get(label);
    assert.ok(event, `no event ${label}`);
    return event.eventId;
  }

  /** The event of `spec` after `prevs`, its auth events taken from `stateBefore`. */
  build(spec: Spec, prevs: readonly StoredEvent[], stateBefore: ReadonlyMap<string, string>) {
    const version = this.version;
    const isCreate = spec.type === CREATE;
    const content = isCreate ? this.createContent(spec) : (spec.content ?? {});
    const draft: Pdu = {
      type: spec.type,
      ...(isCreate && version.roomIdFromCreateEvent ? {} : { room_id: this.roomId }),
      sender: spec.sender,
      origin_server_ts: (this.ts += 1),
      content,
      ...(spec.stateKey === undefined ? {} : { state_key: spec.stateKey }),
      prev_events: prevs.map((e) => e.eventId),
      auth_events: [],
      depth: Math.max(0, ...prevs.map((e) => e.pdu.depth)) + 1,
      hashes: { sha256: '' },
      signatures: {},
    };
    draft.auth_events = authEventTypesFor(draft, version).flatMap(
      (pair) => stateBefore.get(stateMapKey(pair.type, pair.stateKey)) ?? [],
    );
    const sealed = sealEvent(draft, SERVER, KEY, version);
    const event = {
      eventId: eventIdFromReferenceHash(sealed.referenceHash, version),
      pdu: sealed.pdu,
    };
    if (isCreate) this.roomId = this.roomIdOf(event);
    this.events.set(event.eventId, event);
    this.byLabel.set(spec.label, event);
    return event;
  }

  private createContent(spec: Spec): JsonObject {
    const content: JsonObject = { room_version: this.version.id, ...spec.content };
    if (!this.version.creatorIsCreateSender) content.creator = spec.sender;
    return content;
  }

  private roomIdOf(create: StoredEvent): string {
    return this.version.roomIdFromCreateEvent
      ? roomIdFor(create.pdu, this.version)
      : `!room:${SERVER}`;
  }
}

/** A room built in a line: each event after the previous one, on the state so far. */
class LinearRoom extends Room {
  state = new Map<string, string>();
  private last: StoredEvent[] = [];

  send(spec: Spec): StoredEvent {
    const event = this.build(spec, this.last, this.state);
    // In place: a copy per event would make building a big room quadratic.
    const stateKey = event.pdu.state_key;
    if (stateKey !== undefined)
      this.state.set(stateMapKey(event.pdu.type, stateKey), event.eventId);
    this.last = [event];
    return event;
  }
}

// --- Synapse's graphs ---

function initialEvents(version: RoomVersion): Spec[] {
  return [
    { label: 'CREATE', sender: ALICE, type: CREATE, stateKey: '' },
    join('IMA', ALICE),
    {
      label: 'IPOWER',
      sender: ALICE,
      type: POWER_LEVELS,
      stateKey: '',
      content: powerLevels(version, {}),
    },
    {
      label: 'IJR',
      sender: ALICE,
      type: JOIN_RULES,
      stateKey: '',
      content: { join_rule: 'public' },
    },
    join('IMB', BOB),
    join('IMC', CHARLIE),
    join('IMZ', ZARA),
    { label: 'START', sender: ZARA, type: MESSAGE, content: {} },
    { label: 'END', sender: ZARA, type: MESSAGE, content: {} },
  ];
}

const INITIAL_EDGES = ['START', 'IMZ', 'IMC', 'IMB', 'IJR', 'IPOWER', 'IMA', 'CREATE'];

/**
 * Builds the graph (edge lists run from an event to its prev event) in
 * topological order, the smallest label first among those ready, as
 * Synapse's harness does (origin_server_ts follows that order), resolving
 * the state before every event with several prev events.
 */
async function runGraph(version: RoomVersion, specs: Spec[], edges: string[][]) {
  const room = new Room(version);
  const all = [...initialEvents(version), ...specs];
  const prevs = new Map(all.map((spec) => [spec.label, new Set<string>()]));
  for (const chain of [INITIAL_EDGES, ...edges]) {
    for (let i = 0; i + 1 < chain.length; i += 1)
      prevs.get(chain[i] as string)?.add(chain[i + 1] as string);
  }
  const after = new Map<string, Map<string, string>>();
  const pending = new Map(all.map((spec) => [spec.label, spec]));
  while (pending.size > 0) {
    const ready = [...pending.keys()].filter((l) =>
      [...(prevs.get(l) ?? [])].every((p) => after.has(p)),
    );
    const label = ready.sort()[0];
    assert.ok(label !== undefined, 'the graph has a cycle');
    const spec = pending.get(label) as Spec;
    pending.delete(label);
    const prevLabels = [...(prevs.get(label) ?? [])];
    const sets = prevLabels.map((p) => after.get(p) as Map<string, string>);
    const before =
      sets.length > 1
        ? await resolveState({ version, stateSets: sets, loadEvents: room.loadEvents })
        : new Map(sets[0]);
    const event = room.build(
      spec,
      prevLabels.map((p) => room.byLabel.get(p) as StoredEvent),
      before,
    );
    after.set(label, stateAfter(event, before));
  }
  return { room, after };
}

/** Asserts the state at END: the expected events, and no other change since START. */
async function assertGraph(
  version: RoomVersion,
  specs: Spec[],
  edges: string[][],
  expected: string[],
) {
  const { room, after } = await runGraph(version, specs, edges);
  const start = after.get('START') as Map<string, string>;
  const end = after.get('END') as Map<string, string>;
  const want = new Map(
    expected.map((label) => {
      const pdu = (room.byLabel.get(label) as StoredEvent).pdu;
      return [stateMapKey(pdu.type, pdu.state_key ?? ''), room.id(label)];
    }),
  );
  const got = new Map([...end].filter(([key, id]) => want.has(key) || start.get(key) !== id));
  const name = (id: string | undefined) =>
    [...room.byLabel].find(([, e]) => e.eventId === id)?.[0] ?? String(id);
  assert.deepEqual(
    new Map([...got].map(([k, v]) => [k, name(v)])),
    new Map([...want].map(([k, v]) => [k, name(v)])),
  );
}

const pl = (label: string, sender: string, content: JsonObject): Spec => ({
  label,
  sender,
  type: POWER_LEVELS,
  stateKey: '',
  content,
});
const topic = (label: string, sender: string): Spec => ({
  label,
  sender,
  type: TOPIC,
  stateKey: '',
  content: { topic: label },
});

for (const version of ALL) {
  describe(`state resolution ${version.stateResolution}, room v${version.id}: Synapse's graphs`, () => {
    it("ban vs power levels: the ban, by the higher power, holds against the banned user's change", async () => {
      await assertGraph(
        version,
        [
          pl('PA', ALICE, powerLevels(version, { [BOB]: 50 })),
          join('MA', ALICE),
          {
            label: 'MB',
            sender: ALICE,
            type: MEMBER,
            stateKey: BOB,
            content: { membership: 'ban' },
          },
          pl('PB', BOB, powerLevels(version, { [BOB]: 50 })),
        ],
        [
          ['END', 'MB', 'MA', 'PA', 'START'],
          ['END', 'PB', 'PA'],
        ],
        ['PA', 'MA', 'MB'],
      );
    });

    it('join rules change racing a join: the join is refused under the new rule', async () => {
      await assertGraph(
        version,
        [
          {
            label: 'JR',
            sender: ALICE,
            type: JOIN_RULES,
            stateKey: '',
            content: { join_rule: 'invite' },
          },
          join('ME', EVELYN),
        ],
        [
          ['END', 'JR', 'START'],
          ['END', 'ME', 'START'],
        ],
        ['JR'],
      );
    });

    it('offtopic power levels: a chain of power level changes against an older one', async () => {
      await assertGraph(
        version,
        [
          pl('PA', ALICE, powerLevels(version, { [BOB]: 50 })),
          pl('PB', BOB, powerLevels(version, { [BOB]: 50, [CHARLIE]: 50 })),
          pl('PC', CHARLIE, powerLevels(version, { [BOB]: 50, [CHARLIE]: 0 })),
        ],
        [
          ['END', 'PC', 'PB', 'PA', 'START'],
          ['END', 'PA'],
        ],
        ['PC'],
      );
    });

    it("topic basic: a demoted user's topic loses", async () => {
      await assertGraph(
        version,
        [
          topic('T1', ALICE),
          pl('PA1', ALICE, powerLevels(version, { [BOB]: 50 })),
          topic('T2', ALICE),
          pl('PA2', ALICE, powerLevels(version, { [BOB]: 0 })),
          pl('PB', BOB, powerLevels(version, { [BOB]: 50 })),
          topic('T3', BOB),
        ],
        [
          ['END', 'PA2', 'T2', 'PA1', 'T1', 'START'],
          ['END', 'T3', 'PB', 'PA1'],
        ],
        ['PA2', 'T2'],
      );
    });

    it('topic reset: a fork that never saw the later topic does not reset it', async () => {
      await assertGraph(
        version,
        [
          topic('T1', ALICE),
          pl('PA', ALICE, powerLevels(version, { [BOB]: 50 })),
          topic('T2', BOB),
          {
            label: 'MB',
            sender: ALICE,
            type: MEMBER,
            stateKey: BOB,
            content: { membership: 'ban' },
          },
        ],
        [
          ['END', 'MB', 'T2', 'PA', 'T1', 'START'],
          ['END', 'T1'],
        ],
        ['T1', 'MB', 'PA'],
      );
    });

    it("topic: the later topic on the mainline wins over a demoted user's", async () => {
      await assertGraph(
        version,
        [
          topic('T1', ALICE),
          pl('PA1', ALICE, powerLevels(version, { [BOB]: 50 })),
          topic('T2', ALICE),
          pl('PA2', ALICE, powerLevels(version, { [BOB]: 0 })),
          pl('PB', BOB, powerLevels(version, { [BOB]: 50 })),
          topic('T3', BOB),
          { label: 'MZ1', sender: ZARA, type: MESSAGE, content: {} },
          topic('T4', ALICE),
        ],
        [
          ['END', 'T4', 'MZ1', 'PA2', 'T2', 'PA1', 'T1', 'START'],
          ['END', 'MZ1', 'T3', 'PB', 'PA1'],
        ],
        ['T4', 'PA2'],
      );
    });

    it('mainline ordering of two topics: the one on the newer power levels wins, though sent earlier', async () => {
      await assertGraph(
        version,
        [
          topic('T1', ALICE),
          pl('PA1', ALICE, powerLevels(version, { [BOB]: 50 })),
          topic('T2', ALICE),
          pl('PA2', ALICE, {
            ...powerLevels(version, { [BOB]: 50 }),
            events: { [POWER_LEVELS]: 100 },
          }),
          pl('PB', BOB, powerLevels(version, { [BOB]: 50 })),
          topic('T3', BOB),
          topic('T4', ALICE),
        ],
        [
          ['END', 'T3', 'PA2', 'T2', 'PA1', 'T1', 'START'],
          ['END', 'T4', 'PB', 'PA1'],
        ],
        ['T3', 'PA2'],
      );
    });

    it('concurrent power level changes: the higher power wins, though it was sent later', async () => {
      // P1 (Bob, sent first) raises Charlie; P2 (Alice, sent later) demotes Bob. Alice's
      // sorts first, so Bob's is checked with Bob at 0 and refused.
      await assertGraph(
        version,
        [
          pl('PA', ALICE, powerLevels(version, { [BOB]: 50 })),
          pl('P1', BOB, powerLevels(version, { [BOB]: 50, [CHARLIE]: 20 })),
          pl('P2', ALICE, powerLevels(version, { [BOB]: 0 })),
        ],
        [
          ['END', 'P1', 'PA', 'START'],
          ['END', 'P2', 'PA'],
        ],
        ['P2'],
      );
    });

    it('two concurrent joins to a public room: both members', async () => {
      await assertGraph(
        version,
        [join('MD', EVELYN), join('ME', `@eve:${SERVER}`)],
        [
          ['END', 'MD', 'START'],
          ['END', 'ME', 'START'],
        ],
        ['MD', 'ME'],
      );
    });
  });
}

// --- MSC4297: where v2.1 differs ---

/** v11 resolves with v2, v12 with v2.1; the same scenario in both. */
const V2_AND_V21 = [V11, V12];

describe('MSC4297 problem A: conflicted events refused by the unconflicted state', () => {
  // Alice sets JR1 then JR2, then leaves. One state set (from a partial sync) holds the
  // outdated JR1; both agree she left. v2 replays both join rules on the unconflicted
  // state, where Alice is gone, and loses them; v2.1 replays them on their auth events.
  for (const version of V2_AND_V21) {
    it(`room v${version.id} (${version.stateResolution})`, async () => {
      const room = new LinearRoom(version);
      room.send({ label: 'CREATE', sender: ALICE, type: CREATE, stateKey: '' });
      room.send(join('IMA', ALICE));
      room.send(pl('IPOWER', ALICE, powerLevels(version, {})));
      const jr1 = room.send({
        label: 'JR1',
        sender: ALICE,
        type: JOIN_RULES,
        stateKey: '',
        content: { join_rule: 'public' },
      });
      room.send(join('IMB', BOB));
      const jr2 = room.send({
        label: 'JR2',
        sender: ALICE,
        type: JOIN_RULES,
        stateKey: '',
        content: { join_rule: 'invite' },
      });
      room.send({
        label: 'LEAVE',
        sender: ALICE,
        type: MEMBER,
        stateKey: ALICE,
        content: { membership: 'leave' },
      });
      const correct = room.state;
      const outdated = stateAfter(jr1, correct);

      const resolved = await resolveState({
        version,
        stateSets: [correct, outdated],
        loadEvents: room.loadEvents,
      });

      const joinRules = resolved.get(stateMapKey(JOIN_RULES, ''));
      if (version.stateResolution === 'v2.1') assert.equal(joinRules, jr2.eventId);
      else
        assert.equal(
          joinRules,
          undefined,
          'v2 loses the join rules (the state reset MSC4297 fixes)',
        );
      assert.equal(resolved.get(stateMapKey(MEMBER, ALICE)), room.id('LEAVE'));
      assert.equal(resolved.get(stateMapKey(MEMBER, BOB)), room.id('IMB'));
    });
  }
});

describe('MSC4297 problem B: events between conflicted events', () => {
  // Alice promotes Bob (PL2), Charlie joins, Bob promotes Charlie (PL3). One state set
  // holds the outdated PL1. Both have seen PL2 (Charlie's join cites it), so it is not in
  // the auth difference: v2 replays PL3 right on PL1, where Bob cannot change power
  // levels; v2.1 adds PL2, on the auth path from PL3 to PL1, and keeps PL3.
  for (const version of V2_AND_V21) {
    it(`room v${version.id} (${version.stateResolution})`, async () => {
      const room = new LinearRoom(version);
      room.send({ label: 'CREATE', sender: ALICE, type: CREATE, stateKey: '' });
      room.send(join('IMA', ALICE));
      const pl1 = room.send(pl('PL1', ALICE, powerLevels(version, {})));
      room.send({
        label: 'IJR',
        sender: ALICE,
        type: JOIN_RULES,
        stateKey: '',
        content: { join_rule: 'public' },
      });
      room.send(join('IMB', BOB));
      room.send(pl('PL2', ALICE, powerLevels(version, { [BOB]: 50 })));
      room.send(join('IMC', CHARLIE));
      const pl3 = room.send(pl('PL3', BOB, powerLevels(version, { [BOB]: 50, [CHARLIE]: 50 })));
      const correct = room.state;
      const outdated = stateAfter(pl1, correct);

      const resolved = await resolveState({
        version,
        stateSets: [correct, outdated],
        loadEvents: room.loadEvents,
      });

      const expected = version.stateResolution === 'v2.1' ? pl3 : pl1;
      assert.equal(resolved.get(stateMapKey(POWER_LEVELS, '')), expected.eventId);
      assert.equal(resolved.get(stateMapKey(MEMBER, CHARLIE)), room.id('IMC'));
    });
  }
});

// --- Scale, missing events, the exports ---

/** Alice's room with `members` more joined users, then two forks each setting a topic. */
function bigRoom(version: RoomVersion, members: number) {
  const room = new LinearRoom(version);
  room.send({ label: 'CREATE', sender: ALICE, type: CREATE, stateKey: '' });
  room.send(join('IMA', ALICE));
  room.send(pl('IPOWER', ALICE, powerLevels(version, {})));
  room.send({
    label: 'IJR',
    sender: ALICE,
    type: JOIN_RULES,
    stateKey: '',
    content: { join_rule: 'public' },
  });
  for (let i = 0; i < members; i += 1) room.send(join(`M${i}`, `@user${i}:${SERVER}`));
  const shared = new Map(room.state);
  const t1 = room.send(topic('T1', ALICE));
  const left = room.state;
  room.state = new Map(shared);
  const t2 = room.send(topic('T2', ALICE));
  return { room, shared, left, right: room.state, t1, t2 };
}

for (const version of [V11, V12])
  describe(`a room of 5,000 members (v${version.id}, ${version.stateResolution})`, () => {
    const { room, shared, left, right, t2 } = bigRoom(version, 5000);

    it('without conflict: the state as it is, no event read', async () => {
      room.loadCalls = 0;
      const resolved = await resolveState({
        version,
        stateSets: [left, new Map(left)],
        loadEvents: room.loadEvents,
      });
      assert.deepEqual(resolved, left);
      assert.notEqual(resolved, left, 'a copy, not the input');
      assert.equal(room.loadCalls, 0);
    });

    it('two topics: resolved fast, the events read in a few batches', async () => {
      room.loadCalls = 0;
      room.idsRequested = 0;
      const started = process.cpuUsage();
      const resolved = await resolveState({
        version,
        stateSets: [left, right],
        loadEvents: room.loadEvents,
      });
      // CPU time, not wall time: the test machine may be busy with other work.
      const { user, system } = process.cpuUsage(started);
      const elapsed = (user + system) / 1000;
      assert.equal(resolved.size, shared.size + 1);
      assert.equal(
        resolved.get(stateMapKey(TOPIC, '')),
        t2.eventId,
        'the later topic, same mainline position',
      );
      assert.equal(resolved.get(stateMapKey(MEMBER, `@user4999:${SERVER}`)), room.id('M4999'));
      assert.ok(room.loadCalls <= 3, `${room.loadCalls} loadEvents calls`);
      assert.ok(room.idsRequested <= room.events.size, 'no event asked for twice');
      assert.ok(elapsed < 1000, `${elapsed.toFixed(0)} ms of CPU`);
    });
  });

describe('events the loader lacks', () => {
  it('take no part: the topic we hold wins (T2, sent later, is missing); a missing unconflicted event stays', async () => {
    const version = V12;
    const { room, left, right, t1, t2 } = bigRoom(version, 2);
    room.events.delete(t2.eventId);
    room.events.delete(room.id('M1'));
    const resolved = await resolveState({
      version,
      stateSets: [left, right],
      loadEvents: room.loadEvents,
    });
    assert.equal(resolved.get(stateMapKey(TOPIC, '')), t1.eventId);
    assert.equal(resolved.get(stateMapKey(MEMBER, `@user1:${SERVER}`)), room.id('M1'));
  });
});

describe('authChain', () => {
  for (const version of [V11, V12]) {
    it(`room v${version.id}: every auth event, transitively, oldest first, in batches`, async () => {
      const { room } = bigRoom(version, 3);
      room.loadCalls = 0;
      const chain = await authChain([room.id('M2')], room.loadEvents, version);
      // M2 cites the create event (v12: through the room ID), the power levels and join
      // rules; the power levels cite Alice's join, which cites the create event.
      assert.deepEqual(
        chain.map((e) => [...room.byLabel].find(([, x]) => x.eventId === e.eventId)?.[0]),
        ['CREATE', 'IMA', 'IPOWER', 'IJR'],
      );
      assert.ok(room.loadCalls <= 4, `${room.loadCalls} calls`);
      const inferred = await authChain([room.id('M2')], room.loadEvents);
      assert.deepEqual(inferred, chain, 'the version inferred from the room ID');
    });
  }

  it('leaves out what the loader lacks, and the events asked about', async () => {
    const { room } = bigRoom(V11, 1);
    room.events.delete(room.id('IJR'));
    const chain = await authChain([room.id('M0')], room.loadEvents, V11);
    assert.deepEqual(
      chain.map((e) => e.eventId),
      [room.id('CREATE'), room.id('IMA'), room.id('IPOWER')],
    );
  });
});

describe('stateAfter', () => {
  it('a state event replaces its pair; a message changes nothing', () => {
    const room = new LinearRoom(V11);
    room.send({ label: 'CREATE', sender: ALICE, type: CREATE, stateKey: '' });
    const before = new Map(room.state);
    const member = room.send(join('IMA', ALICE));
    const message = room.send({
      label: 'M',
      sender: ALICE,
      type: MESSAGE,
      content: { body: 'hi' },
    });
    assert.equal(stateAfter(member, before).get(stateMapKey(MEMBER, ALICE)), member.eventId);
    assert.deepEqual(stateAfter(message, room.state), room.state);
    assert.equal(before.size, 1, 'the state before is not changed');
  });
});
