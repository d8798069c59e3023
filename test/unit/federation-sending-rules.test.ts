/**
 * Federation sending's pure rules: which servers an event goes to, the wire
 * PDU, backoff, in-memory EDU replacement and bounds, EDU contents, and the
 * inbound EDU parsers' origin checks.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  addEphemeral,
  destinationsOf,
  directToDeviceEdus,
  receiptEdus,
  refusedPdus,
  retryDelayMs,
  serversOf,
  transactionBody,
  typingEdu,
  wirePdu,
  presenceEdu,
  deviceListUpdateEdu,
  type Edu,
} from '../../src/federation/sending-rules.js';
import {
  parseDirectToDevice,
  parsePresence,
  parseReceipts,
  parseTyping,
  parseKeysChanged,
} from '../../src/federation/edu-rules.js';
import { minimalPdu } from '../support/pdus.js';

describe('federation sending rules', () => {
  it('lists the servers of members, ours left out', () => {
    const servers = serversOf(['@a:here', '@b:there', '@c:there', '@d:else:8448'], 'here');
    assert.deepEqual([...servers].sort(), ['else:8448', 'there']);
  });

  it('sends an event to the servers before and after it, and to a member event’s target', () => {
    const message = { type: 'm.room.message' };
    assert.deepEqual(destinationsOf(message, new Set(['b']), new Set(['b']), 'a'), ['b']);
    const leave = { type: 'm.room.member', state_key: '@x:gone' };
    assert.deepEqual(destinationsOf(leave, new Set(['b', 'gone']), new Set(['b']), 'a'), [
      'b',
      'gone',
    ]);
    const invite = { type: 'm.room.member', state_key: '@x:new' };
    assert.deepEqual(destinationsOf(invite, new Set(), new Set(), 'a'), ['new']);
    const ownInvite = { type: 'm.room.member', state_key: '@x:a' };
    assert.deepEqual(destinationsOf(ownInvite, new Set(), new Set(), 'a'), []);
  });

  it('backs off 5 s, doubling, to an hour', () => {
    const settings = { initialMs: 5_000, maxMs: 3_600_000 };
    assert.equal(retryDelayMs(0, settings), 0);
    assert.equal(retryDelayMs(1, settings), 5_000);
    assert.equal(retryDelayMs(2, settings), 10_000);
    assert.equal(retryDelayMs(5, settings), 80_000);
    assert.equal(retryDelayMs(11, settings), 3_600_000);
    assert.equal(retryDelayMs(500, settings), 3_600_000);
  });

  it('puts the PDU on the wire without unsigned', () => {
    const pdu = minimalPdu({ type: 'm.room.message', roomId: '!r:a', sender: '@a:a', depth: 3 });
    pdu.unsigned = { transaction_id: 'secret' };
    const wire = wirePdu(pdu);
    assert.equal('unsigned' in wire, false);
    assert.equal('event_id' in wire, false);
    assert.equal(wire.depth, 3);
    assert.equal(pdu.unsigned.transaction_id, 'secret', 'the stored PDU is untouched');
    const body = transactionBody({ origin: 'a', originServerTs: 5, pdus: [wire], edus: [] });
    assert.deepEqual(Object.keys(body).sort(), ['origin', 'origin_server_ts', 'pdus']);
  });

  it('reads refused PDUs from an answer', () => {
    assert.deepEqual(refusedPdus({ pdus: { $a: {}, $b: { error: 'bad' } } }), [
      { eventId: '$b', error: 'bad' },
    ]);
    assert.deepEqual(refusedPdus('nonsense'), []);
    assert.deepEqual(refusedPdus({ pdus: null }), []);
  });

  it('replaces a user’s older typing and presence, bounds the list', () => {
    const list: Edu[] = [];
    addEphemeral(list, typingEdu('!r', '@a:x', true));
    addEphemeral(list, typingEdu('!r', '@b:x', true));
    addEphemeral(list, typingEdu('!r', '@a:x', false));
    assert.deepEqual(
      list.map((edu) => [edu.content.user_id, edu.content.typing]),
      [
        ['@b:x', true],
        ['@a:x', false],
      ],
    );
    addEphemeral(list, presenceEdu('@a:x', { presence: 'online', last_active_ago: 1 }));
    addEphemeral(list, presenceEdu('@a:x', { presence: 'offline', last_active_ago: 2 }));
    assert.equal(list.filter((edu) => edu.edu_type === 'm.presence').length, 1);
    const bounded: Edu[] = [];
    for (let i = 0; i < 5; i++) addEphemeral(bounded, typingEdu('!r', `@u${i}:x`, true), 3);
    assert.deepEqual(
      bounded.map((edu) => edu.content.user_id),
      ['@u2:x', '@u3:x', '@u4:x'],
    );
  });

  it('batches our public read receipts per room', () => {
    const edus = receiptEdus(
      [
        { roomId: '!1', receiptType: 'm.read', userId: '@a:here', eventId: '$1', ts: 1 },
        { roomId: '!1', receiptType: 'm.read', userId: '@b:here', eventId: '$2', ts: 2 },
        { roomId: '!1', receiptType: 'm.read.private', userId: '@c:here', eventId: '$3', ts: 3 },
        { roomId: '!1', receiptType: 'm.read', userId: '@r:there', eventId: '$4', ts: 4 },
        {
          roomId: '!2',
          receiptType: 'm.read',
          userId: '@a:here',
          eventId: '$5',
          ts: 5,
          threadId: '$root',
        },
      ],
      'here',
    );
    assert.deepEqual([...edus.keys()], ['!1', '!2']);
    assert.deepEqual(edus.get('!1')!.content, {
      '!1': {
        'm.read': {
          '@a:here': { event_ids: ['$1'], data: { ts: 1 } },
          '@b:here': { event_ids: ['$2'], data: { ts: 2 } },
        },
      },
    });
    assert.deepEqual(edus.get('!2')!.content['!2'], {
      'm.read': { '@a:here': { event_ids: ['$5'], data: { ts: 5, thread_id: '$root' } } },
    });
  });

  it('groups to-device messages by destination server', () => {
    const edus = directToDeviceEdus(
      { sender: '@a:here', type: 'm.test', messageId: 'm1' },
      { '@x:one': { D: { n: 1 } }, '@y:one': { '*': { n: 2 } }, '@z:two': { E: { n: 3 } } },
      'here',
    );
    assert.deepEqual([...edus.keys()].sort(), ['one', 'two']);
    assert.deepEqual(edus.get('one')!.content, {
      sender: '@a:here',
      type: 'm.test',
      message_id: 'm1',
      messages: { '@x:one': { D: { n: 1 } }, '@y:one': { '*': { n: 2 } } },
    });
  });

  it('names a device in a device list update, or says it is gone', () => {
    const some = deviceListUpdateEdu({
      userId: '@a:here',
      deviceId: 'D',
      streamId: 7,
      prevId: 5,
      device: { keys: { device_id: 'D' } },
    });
    // Its keys, never its display name (other servers do not get our devices' names).
    assert.deepEqual(some.content, {
      user_id: '@a:here',
      device_id: 'D',
      stream_id: 7,
      prev_id: [5],
      keys: { device_id: 'D' },
    });
    const gone = deviceListUpdateEdu({ userId: '@a:here', deviceId: 'D', streamId: 8 });
    assert.deepEqual(gone.content, {
      user_id: '@a:here',
      device_id: 'D',
      stream_id: 8,
      prev_id: [],
      deleted: true,
    });
  });
});

describe('inbound EDU parsing', () => {
  it('takes typing only from the user’s own server', () => {
    const content = { room_id: '!r:x', user_id: '@u:there', typing: true };
    assert.deepEqual(parseTyping('there', content), {
      roomId: '!r:x',
      userId: '@u:there',
      typing: true,
    });
    assert.equal(parseTyping('evil', content), undefined);
    assert.equal(parseTyping('there', { ...content, typing: 'yes' }), undefined);
  });

  it('keeps the origin’s users’ read receipts, the last event of each', () => {
    const receipts = parseReceipts('there', {
      '!r': {
        'm.read': {
          '@u:there': { event_ids: ['$a', '$b'], data: { ts: 9, thread_id: 'main' } },
          '@v:elsewhere': { event_ids: ['$c'], data: {} },
          '@w:there': { event_ids: [] },
        },
      },
      '!bad': 'nope',
    });
    assert.deepEqual(receipts, [
      { roomId: '!r', userId: '@u:there', eventId: '$b', threadId: 'main', ts: 9 },
    ]);
  });

  it('reads presence pushes, skipping the malformed and the foreign', () => {
    const updates = parsePresence('there', {
      push: [
        { user_id: '@u:there', presence: 'online', last_active_ago: 10, status_msg: 'hi' },
        { user_id: '@u:there', presence: 'dancing' },
        { user_id: '@v:else', presence: 'online' },
        { user_id: '@w:there', presence: 'offline', last_active_ago: -3 },
      ],
    });
    assert.deepEqual(updates, [
      { userId: '@u:there', state: 'online', lastActiveAgo: 10, statusMsg: 'hi' },
      { userId: '@w:there', state: 'offline', lastActiveAgo: 0 },
    ]);
    assert.deepEqual(parsePresence('there', { push: 'x' }), []);
  });

  it('keeps only our users of a to-device EDU from the sender’s server', () => {
    const content = {
      sender: '@s:there',
      type: 'm.room_key_request',
      message_id: 'abc',
      messages: { '@a:here': { D: { k: 1 }, E: 'no' }, '@b:else': { F: { k: 2 } } },
    };
    const parsed = parseDirectToDevice('there', content, 'here')!;
    assert.equal(parsed.messageId, 'abc');
    assert.deepEqual([...parsed.messages.keys()], ['@a:here']);
    assert.deepEqual([...parsed.messages.get('@a:here')!.keys()], ['D']);
    assert.equal(parseDirectToDevice('evil', content, 'here'), undefined);
    assert.equal(parseDirectToDevice('there', { ...content, message_id: 3 }, 'here'), undefined);
  });

  it('names the user of a key change only for their own server', () => {
    assert.equal(parseKeysChanged('there', { user_id: '@u:there' }), '@u:there');
    assert.equal(parseKeysChanged('evil', { user_id: '@u:there' }), undefined);
  });
});
