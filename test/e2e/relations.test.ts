/**
 * Relations, threads, edits and reactions over HTTP (issue 5): the relations
 * and threads endpoints, bundled aggregations wherever events are served, the
 * checks on new relations, and history visibility.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';
import { assertResponseMatchesSpec, assertSpecError } from '../support/spec-schemas.js';

type Body = Record<string, unknown>;
interface Event {
  event_id: string;
  type: string;
  sender: string;
  content: Body;
  unsigned?: { 'm.relations'?: Relations };
}
interface Relations {
  'm.thread'?: { latest_event: Event; count: number; current_user_participated: boolean };
  'm.replace'?: Event;
  'm.reference'?: { chunk: { event_id: string }[] };
}
interface Chunk {
  chunk: Event[];
  next_batch?: string;
  prev_batch?: string;
  recursion_depth?: number;
}

const CLIENT_V1 = '/_matrix/client/v1';
const SPEC_RELATIONS = `${CLIENT_V1}/rooms/{roomId}/relations/{eventId}`;
const SPEC_THREADS = `${CLIENT_V1}/rooms/{roomId}/threads`;

describe('relations, threads, edits and reactions', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [alice, bob, carol] = suite.users('alice', 'bob', 'carol');

  let txn = 0;
  const sendRaw = (who: Session, roomId: string, content: Body, type = 'm.room.message') =>
    api.put(`${CLIENT_V3}/rooms/${roomId}/send/${type}/t${++txn}`, content, {
      token: who.access_token,
    });
  const send = async (who: Session, roomId: string, content: Body, type?: string) => {
    const res = await sendRaw(who, roomId, content, type);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return String(res.body.event_id);
  };
  const text = (body: string, relatesTo?: Body): Body =>
    relatesTo
      ? { msgtype: 'm.text', body, 'm.relates_to': relatesTo }
      : { msgtype: 'm.text', body };
  const reply = (who: Session, roomId: string, rootId: string, body: string) =>
    send(who, roomId, text(body, { rel_type: 'm.thread', event_id: rootId }));
  const edit = (who: Session, roomId: string, originalId: string, body: string) =>
    send(who, roomId, {
      ...text(`* ${body}`, { rel_type: 'm.replace', event_id: originalId }),
      'm.new_content': text(body),
    });
  const react = (who: Session, roomId: string, targetId: string, key: string) =>
    sendRaw(
      who,
      roomId,
      { 'm.relates_to': { rel_type: 'm.annotation', event_id: targetId, key } },
      'm.reaction',
    );
  const redact = async (who: Session, roomId: string, eventId: string) => {
    const res = await api.put(
      `${CLIENT_V3}/rooms/${roomId}/redact/${eventId}/r${++txn}`,
      {},
      { token: who.access_token },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };
  /** A room of alice's that bob joined. */
  const createRoom = async (body: Body = { preset: 'public_chat' }) => {
    const roomId = await suite.createRoom(alice, body);
    await suite.join(bob, roomId);
    return roomId;
  };
  const getEvent = async (who: Session, roomId: string, eventId: string) => {
    const res = await api.get<Event>(`${CLIENT_V3}/rooms/${roomId}/event/${eventId}`, {
      token: who.access_token,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assertResponseMatchesSpec('get', `${CLIENT_V3}/rooms/{roomId}/event/{eventId}`, 200, res.body);
    return res.body;
  };
  /** GET /relations: `path` is what follows the event ID ('' or '/relType[/eventType]'). */
  const relations = async (
    who: Session,
    roomId: string,
    eventId: string,
    path = '',
    query: Record<string, string> = {},
  ) => {
    const search = new URLSearchParams(query).toString();
    const url = `${CLIENT_V1}/rooms/${roomId}/relations/${eventId}${path}${search ? `?${search}` : ''}`;
    const res = await api.get<Chunk>(url, { token: who.access_token });
    const template = [SPEC_RELATIONS, '{relType}', '{eventType}']
      .slice(0, path.split('/').length)
      .join('/');
    if (res.status === 200) assertResponseMatchesSpec('get', template, 200, res.body);
    return res;
  };
  const threads = async (who: Session, roomId: string, query: Record<string, string> = {}) => {
    const search = new URLSearchParams(query).toString();
    const res = await api.get<Chunk>(
      `${CLIENT_V1}/rooms/${roomId}/threads${search ? `?${search}` : ''}`,
      { token: who.access_token },
    );
    if (res.status === 200) assertResponseMatchesSpec('get', SPEC_THREADS, 200, res.body);
    return res;
  };
  /** A new user in the room who ignores `ignored`: a fresh user, so other tests see no change. */
  const ignorerIn = async (roomId: string, name: string, ignored: Session) => {
    const user = await api.register(name);
    await suite.join(user, roomId);
    const res = await api.put(
      `${CLIENT_V3}/user/${encodeURIComponent(user.user_id)}/account_data/m.ignored_user_list`,
      { ignored_users: { [ignored.user_id]: {} } },
      { token: user.access_token },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return user;
  };
  const ids = (events: Event[]) => events.map((e) => e.event_id);
  const threadOf = (event: Event | undefined) => event?.unsigned?.['m.relations']?.['m.thread'];

  it('bundles the thread on its root in /event, /messages and /sync', async () => {
    const roomId = await createRoom();
    const rootId = await send(alice, roomId, text('root'));
    await reply(bob, roomId, rootId, 'one');
    await reply(bob, roomId, rootId, 'two');
    const lastId = await send(
      bob,
      roomId,
      text('three', {
        rel_type: 'm.thread',
        event_id: rootId,
        is_falling_back: true,
        'm.in_reply_to': { event_id: rootId },
      }),
    );

    const viaEvent = threadOf(await getEvent(alice, roomId, rootId));
    assert.equal(viaEvent?.count, 3);
    assert.equal(viaEvent?.latest_event.event_id, lastId);
    assert.equal(viaEvent?.latest_event.content.body, 'three');
    assert.equal(viaEvent?.current_user_participated, true, 'alice sent the root');

    const messages = await api.get<Chunk>(`${CLIENT_V3}/rooms/${roomId}/messages?dir=b&limit=10`, {
      token: bob.access_token,
    });
    assert.equal(messages.status, 200);
    const rootInMessages = messages.body.chunk.find((e) => e.event_id === rootId);
    assert.equal(threadOf(rootInMessages)?.count, 3);
    assert.equal(threadOf(rootInMessages)?.current_user_participated, true, 'bob replied');
    const replyInMessages = messages.body.chunk.find((e) => e.event_id === lastId);
    assert.equal(threadOf(replyInMessages), undefined, 'a thread event is no thread root');

    const filter = JSON.stringify({ room: { timeline: { limit: 20 } } });
    const sync = await api.get<{
      rooms: { join: Record<string, { timeline: Chunk & { events: Event[] } }> };
    }>(`${CLIENT_V3}/sync?filter=${encodeURIComponent(filter)}`, { token: alice.access_token });
    assert.equal(sync.status, 200);
    const rootInSync = sync.body.rooms.join[roomId]?.timeline.events.find(
      (e) => e.event_id === rootId,
    );
    assert.equal(threadOf(rootInSync)?.latest_event.event_id, lastId);
    assert.equal(threadOf(rootInSync)?.count, 3);

    // A member who took no part has not participated.
    await suite.join(carol, roomId);
    assert.equal(threadOf(await getEvent(carol, roomId, rootId))?.current_user_participated, false);

    // A redacted thread event leaves the count and the latest event.
    await redact(bob, roomId, lastId);
    const afterRedaction = threadOf(await getEvent(alice, roomId, rootId));
    assert.equal(afterRedaction?.count, 2);
    assert.notEqual(afterRedaction?.latest_event.event_id, lastId);
    assert.equal(afterRedaction?.latest_event.content.body, 'two');
  });

  it('lists thread roots by latest activity; participated lists only the user’s', async () => {
    const roomId = await createRoom();
    const rootA = await send(alice, roomId, text('A'));
    const rootB = await send(alice, roomId, text('B'));
    const rootC = await send(bob, roomId, text('C'));
    await send(alice, roomId, text('no thread here'));
    await reply(alice, roomId, rootA, 'a1');
    await reply(bob, roomId, rootB, 'b1');
    await reply(alice, roomId, rootC, 'c1');
    await reply(alice, roomId, rootA, 'a2');

    const all = await threads(alice, roomId, { limit: '10' });
    assert.equal(all.status, 200);
    assert.deepEqual(ids(all.body.chunk), [rootA, rootC, rootB]);
    assert.equal(all.body.next_batch, undefined, 'everything fitted');
    assert.equal(threadOf(all.body.chunk[0])?.count, 2, 'roots come with their aggregation');

    const bobs = await threads(bob, roomId, { include: 'participated', limit: '10' });
    assert.deepEqual(ids(bobs.body.chunk), [rootC, rootB], 'C he started, B he replied in');

    const first = await threads(alice, roomId, { limit: '2' });
    assert.deepEqual(ids(first.body.chunk), [rootA, rootC]);
    assert.ok(first.body.next_batch);
    const second = await threads(alice, roomId, { limit: '2', from: first.body.next_batch! });
    assert.deepEqual(ids(second.body.chunk), [rootB]);

    const bad = await threads(alice, roomId, { include: 'some' });
    assert.equal(bad.status, 400);
    assertSpecError(bad.body, 'M_INVALID_PARAM');
  });

  it('paginates /relations in both directions, filters by type, and recurses', async () => {
    const roomId = await createRoom();
    const rootId = await send(alice, roomId, text('root'));
    const replies: string[] = [];
    for (const n of [1, 2, 3, 4, 5]) replies.push(await reply(bob, roomId, rootId, `r${n}`));
    const reaction = await react(alice, roomId, replies[0]!, '👍');
    assert.equal(reaction.status, 200);
    const reactionId = String(reaction.body.event_id);

    const page1 = await relations(alice, roomId, rootId, '', { limit: '2' });
    assert.deepEqual(ids(page1.body.chunk), [replies[4], replies[3]]);
    const page2 = await relations(alice, roomId, rootId, '', {
      limit: '2',
      from: page1.body.next_batch!,
    });
    assert.deepEqual(ids(page2.body.chunk), [replies[2], replies[1]]);
    assert.equal(page2.body.prev_batch, page1.body.next_batch);
    const page3 = await relations(alice, roomId, rootId, '', {
      limit: '2',
      from: page2.body.next_batch!,
    });
    assert.deepEqual(ids(page3.body.chunk), [replies[0]]);
    assert.equal(page3.body.next_batch, undefined, 'the end of the children');
    assert.equal(page3.body.recursion_depth, undefined, 'absent without recurse');

    const forwards = await relations(alice, roomId, rootId, '', { dir: 'f', limit: '3' });
    assert.deepEqual(ids(forwards.body.chunk), replies.slice(0, 3));
    const forwards2 = await relations(alice, roomId, rootId, '', {
      dir: 'f',
      limit: '3',
      from: forwards.body.next_batch!,
    });
    assert.deepEqual(ids(forwards2.body.chunk), replies.slice(3));

    const withReaction = await relations(alice, roomId, rootId, '', {
      recurse: 'true',
      limit: '10',
    });
    assert.equal(withReaction.body.recursion_depth, 3);
    assert.deepEqual(ids(withReaction.body.chunk), [reactionId, ...[...replies].reverse()]);
    assert.ok(!ids(page1.body.chunk).includes(reactionId));
    // The filter applies at every level: the reaction hangs off a thread event, not an annotation.
    const annotations = await relations(alice, roomId, rootId, '/m.annotation', {
      recurse: 'true',
    });
    assert.deepEqual(ids(annotations.body.chunk), []);
    const typed = await relations(alice, roomId, replies[0]!, '/m.annotation/m.reaction');
    assert.deepEqual(ids(typed.body.chunk), [reactionId]);
    const otherType = await relations(alice, roomId, replies[0]!, '/m.annotation/m.room.message');
    assert.deepEqual(ids(otherType.body.chunk), []);
  });

  it('bundles the latest valid edit, leaves the content alone, and drops a redacted edit', async () => {
    const roomId = await createRoom();
    const original = await send(alice, roomId, text('first'));
    const edit1 = await edit(alice, roomId, original, 'second');
    const edit2 = await edit(alice, roomId, original, 'third');
    // Invalid: another sender, and an edit without m.new_content.
    await send(bob, roomId, {
      ...text('* hijack', { rel_type: 'm.replace', event_id: original }),
      'm.new_content': text('hijack'),
    });
    await send(alice, roomId, text('* bare', { rel_type: 'm.replace', event_id: original }));

    const served = await getEvent(bob, roomId, original);
    assert.equal(served.content.body, 'first', 'the original content is served as sent');
    const replace = served.unsigned?.['m.relations']?.['m.replace'];
    assert.equal(replace?.event_id, edit2);
    assert.equal((replace?.content['m.new_content'] as Body).body, 'third');

    await redact(alice, roomId, edit2);
    const afterRedaction = await getEvent(bob, roomId, original);
    assert.equal(afterRedaction.unsigned?.['m.relations']?.['m.replace']?.event_id, edit1);

    // All edits stay listed under /relations (validity is an aggregation rule), but not the redacted one.
    const listed = await relations(alice, roomId, original, '/m.replace', { limit: '10' });
    assert.equal(listed.body.chunk.length, 3);
    assert.ok(!ids(listed.body.chunk).includes(edit2));

    await redact(alice, roomId, original);
    const redacted = await getEvent(bob, roomId, original);
    assert.equal(redacted.unsigned?.['m.relations']?.['m.replace'], undefined);
  });

  it('bundles references and refuses duplicate reactions (but not retries)', async () => {
    const roomId = await createRoom();
    const target = await send(alice, roomId, text('react to me'));
    const ref = await send(
      bob,
      roomId,
      text('see above', { rel_type: 'm.reference', event_id: target }),
    );
    const bundled = (await getEvent(alice, roomId, target)).unsigned?.['m.relations'];
    assert.deepEqual(bundled?.['m.reference'], { chunk: [{ event_id: ref }] });

    const first = await react(bob, roomId, target, '🎉');
    assert.equal(first.status, 200);
    const again = await react(bob, roomId, target, '🎉');
    assert.equal(again.status, 400);
    assertSpecError(again.body, 'M_DUPLICATE_ANNOTATION');
    // The same transaction again is a retry: the first event comes back.
    const retry = await api.put(
      `${CLIENT_V3}/rooms/${roomId}/send/m.reaction/t${txn - 1}`,
      { 'm.relates_to': { rel_type: 'm.annotation', event_id: target, key: '🎉' } },
      { token: bob.access_token },
    );
    assert.equal(retry.status, 200);
    assert.equal(retry.body.event_id, first.body.event_id);
    assert.equal((await react(alice, roomId, target, '🎉')).status, 200, 'another user may');
    assert.equal((await react(bob, roomId, target, '👍')).status, 200, 'another key may');

    await redact(bob, roomId, String(first.body.event_id));
    assert.equal((await react(bob, roomId, target, '🎉')).status, 200, 'allowed once redacted');
    const listed = await relations(alice, roomId, target, '/m.annotation', { limit: '10' });
    assert.equal(listed.body.chunk.length, 3);
  });

  it('refuses threads off related events and relations to unknown events', async () => {
    const roomId = await createRoom();
    const rootId = await send(alice, roomId, text('root'));
    const replyId = await reply(bob, roomId, rootId, 'in thread');
    const nested = await sendRaw(
      bob,
      roomId,
      text('nested', { rel_type: 'm.thread', event_id: replyId }),
    );
    assert.equal(nested.status, 400);
    assertSpecError(nested.body, 'M_UNKNOWN');
    // A state event is held to the same rule.
    const nestedState = await api.put(
      `${CLIENT_V3}/rooms/${roomId}/state/org.example.note/x`,
      text('nested', { rel_type: 'm.thread', event_id: replyId }),
      { token: alice.access_token },
    );
    assert.equal(nestedState.status, 400);
    assertSpecError(nestedState.body, 'M_UNKNOWN');
    const unknown = await sendRaw(
      bob,
      roomId,
      text('to nowhere', { rel_type: 'm.reference', event_id: '$nothing' }),
    );
    assert.equal(unknown.status, 400);
  });

  it('takes a threaded receipt only for an event of that thread', async () => {
    const roomId = await createRoom();
    const rootId = await send(alice, roomId, text('root'));
    const replyId = await reply(alice, roomId, rootId, 'in thread');
    const plainId = await send(alice, roomId, text('main timeline'));
    const receipt = (eventId: string, threadId: string) =>
      api.post(
        `${CLIENT_V3}/rooms/${roomId}/receipt/m.read/${eventId}`,
        { thread_id: threadId },
        { token: bob.access_token },
      );
    await api.post(`${CLIENT_V3}/rooms/${roomId}/join`, {}, { token: bob.access_token });
    for (const [eventId, threadId] of [
      [replyId, rootId],
      [rootId, rootId],
      [rootId, 'main'],
      [plainId, 'main'],
    ]) {
      assert.equal((await receipt(eventId!, threadId!)).status, 200, `${eventId} in ${threadId}`);
    }
    // receipts.yaml: 400 when "the event_id is not related to the thread_id".
    for (const [eventId, threadId] of [
      [replyId, 'main'],
      [plainId, rootId],
      [rootId, replyId],
      [plainId, '$no-such-thread'],
    ]) {
      const res = await receipt(eventId!, threadId!);
      assert.equal(res.status, 400, `${eventId} in ${threadId}`);
      assertSpecError(res.body, 'M_INVALID_PARAM');
    }
  });

  it('keeps relations from users who may not see the event', async () => {
    const roomId = await createRoom({
      preset: 'public_chat',
      initial_state: [
        {
          type: 'm.room.history_visibility',
          state_key: '',
          content: { history_visibility: 'joined' },
        },
      ],
    });
    const rootId = await send(alice, roomId, text('before carol'));
    await reply(bob, roomId, rootId, 'reply before carol');

    // relations.yaml has only 404 for a parent the user may not read; threads_list.yaml 403.
    const outsider = await relations(carol, roomId, rootId);
    assert.equal(outsider.status, 404);
    assertSpecError(outsider.body, 'M_NOT_FOUND');
    const outsiderThreads = await threads(carol, roomId);
    assert.equal(outsiderThreads.status, 403);
    assertSpecError(outsiderThreads.body, 'M_FORBIDDEN');
    const noRoom = await relations(carol, '!nowhere:localhost', rootId);
    assert.equal(noRoom.status, 404);
    assertSpecError(noRoom.body, 'M_NOT_FOUND');
    const noRoomThreads = await threads(carol, '!nowhere:localhost');
    assert.equal(noRoomThreads.status, 403);
    assertSpecError(noRoomThreads.body, 'M_FORBIDDEN');

    await suite.join(carol, roomId);
    const hidden = await relations(carol, roomId, rootId);
    assert.equal(hidden.status, 404);
    assertSpecError(hidden.body, 'M_NOT_FOUND');
    assert.deepEqual(ids((await threads(carol, roomId)).body.chunk), []);

    const laterRoot = await send(alice, roomId, text('after carol'));
    const visibleReply = await reply(carol, roomId, laterRoot, 'carol replies');
    assert.deepEqual(ids((await threads(carol, roomId)).body.chunk), [laterRoot]);
    // After she leaves, the thread's aggregation shows her only what she may see.
    const left = await api.post(
      `${CLIENT_V3}/rooms/${roomId}/leave`,
      {},
      { token: carol.access_token },
    );
    assert.equal(left.status, 200);
    const hiddenReply = await reply(bob, roomId, laterRoot, 'after carol left');
    assert.equal(
      threadOf(await getEvent(alice, roomId, laterRoot))?.latest_event.event_id,
      hiddenReply,
    );
    const carolsView = threadOf(await getEvent(carol, roomId, laterRoot));
    assert.equal(carolsView?.latest_event.event_id, visibleReply);
    const afterLeave = await relations(carol, roomId, laterRoot);
    assert.deepEqual(ids(afterLeave.body.chunk), [visibleReply]);
  });

  it('leaves the events of users the viewer ignores out of bundled aggregations', async () => {
    const roomId = await createRoom();
    const rootId = await send(alice, roomId, text('root'));
    const dave = await ignorerIn(roomId, 'dave-aggregations', bob);
    const alicesReply = await reply(alice, roomId, rootId, 'from alice');
    const bobsReply = await reply(bob, roomId, rootId, 'from bob');
    const bobsRef = await send(
      bob,
      roomId,
      text('see', { rel_type: 'm.reference', event_id: rootId }),
    );
    const bobsOnlyRoot = await send(alice, roomId, text('only bob replies'));
    await reply(bob, roomId, bobsOnlyRoot, 'bob alone');
    const bobsOriginal = await send(bob, roomId, text('bob says'));
    const bobsEdit = await edit(bob, roomId, bobsOriginal, 'bob said');

    const alicesView = (await getEvent(alice, roomId, rootId)).unsigned?.['m.relations'];
    assert.equal(alicesView?.['m.thread']?.count, 2);
    assert.equal(alicesView?.['m.thread']?.latest_event.event_id, bobsReply);
    assert.deepEqual(alicesView?.['m.reference'], { chunk: [{ event_id: bobsRef }] });
    const alicesEdit = (await getEvent(alice, roomId, bobsOriginal)).unsigned?.['m.relations'];
    assert.equal(alicesEdit?.['m.replace']?.event_id, bobsEdit);

    const davesView = (await getEvent(dave, roomId, rootId)).unsigned?.['m.relations'];
    assert.equal(davesView?.['m.thread']?.count, 1, 'bob’s reply is not counted');
    assert.equal(davesView?.['m.thread']?.latest_event.event_id, alicesReply);
    assert.equal(davesView?.['m.thread']?.current_user_participated, false);
    assert.equal(davesView?.['m.reference'], undefined, 'bob’s reference is left out');
    assert.equal(threadOf(await getEvent(dave, roomId, bobsOnlyRoot)), undefined);
    const davesEdit = (await getEvent(dave, roomId, bobsOriginal)).unsigned?.['m.relations'];
    assert.equal(davesEdit?.['m.replace'], undefined, 'bob’s edit is left out');

    // The same views everywhere events are served: /threads too.
    const listed = await threads(dave, roomId, { limit: '10' });
    const rootInList = listed.body.chunk.find((e) => e.event_id === rootId);
    assert.equal(threadOf(rootInList)?.count, 1);
    assert.equal(threadOf(rootInList)?.latest_event.event_id, alicesReply);
  });

  it('lists the thread roots of ignored users redacted', async () => {
    const roomId = await createRoom();
    const bobsRoot = await send(bob, roomId, { ...text('bob’s root'), extra: 'secret' });
    const alicesRoot = await send(alice, roomId, text('alice’s root'));
    const dave = await ignorerIn(roomId, 'dave-threads', bob);
    const daveReplies = await reply(dave, roomId, bobsRoot, 'dave replies');
    await reply(alice, roomId, alicesRoot, 'alice replies');

    const all = await threads(dave, roomId, { limit: '10' });
    assert.equal(all.status, 200);
    assert.deepEqual(ids(all.body.chunk), [alicesRoot, bobsRoot]);
    const redacted = all.body.chunk[1]!;
    assert.equal(redacted.sender, bob.user_id);
    assert.equal(redacted.type, 'm.room.message');
    assert.deepEqual(redacted.content, {}, 'redacted as the room version redacts');
    assert.equal(threadOf(redacted)?.latest_event.event_id, daveReplies);

    const participated = await threads(dave, roomId, { include: 'participated' });
    assert.deepEqual(ids(participated.body.chunk), [bobsRoot]);
    assert.deepEqual(participated.body.chunk[0]!.content, {});

    const alicesList = await threads(alice, roomId, { limit: '10' });
    const unredacted = alicesList.body.chunk.find((e) => e.event_id === bobsRoot);
    assert.equal(unredacted?.content.body, 'bob’s root', 'others see it whole');
  });
});
