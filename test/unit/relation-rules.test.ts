import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import {
  MAIN_THREAD,
  isValidEdit,
  latestValidEdit,
  mayBundle,
  relationOf,
  threadIdOf,
  type EditCandidate,
} from '../../src/events/relations.js';
import { migrations } from '../../src/storage/sqlite/migrations.js';

const original: EditCandidate = {
  eventId: '$original',
  roomId: '!room',
  sender: '@alice:x',
  type: 'm.room.message',
  isState: false,
  originServerTs: 1000,
};
const editOf = (overrides: Partial<EditCandidate> = {}): EditCandidate => ({
  eventId: '$edit',
  roomId: '!room',
  sender: '@alice:x',
  type: 'm.room.message',
  isState: false,
  relType: 'm.replace',
  hasNewContent: true,
  originServerTs: 2000,
  ...overrides,
});

describe('relationOf', () => {
  it('reads rel_type relations with their key and reply fallback', () => {
    const content = {
      'm.relates_to': {
        rel_type: 'm.thread',
        event_id: '$root',
        is_falling_back: true,
        'm.in_reply_to': { event_id: '$previous' },
      },
    };
    assert.deepEqual(relationOf(content), {
      relType: 'm.thread',
      eventId: '$root',
      inReplyTo: '$previous',
    });
    const reaction = { 'm.relates_to': { rel_type: 'm.annotation', event_id: '$e', key: '👍' } };
    assert.equal(relationOf(reaction)?.key, '👍');
  });

  it('ignores plain replies and malformed relations', () => {
    assert.equal(
      relationOf({ 'm.relates_to': { 'm.in_reply_to': { event_id: '$e' } } }),
      undefined,
    );
    assert.equal(relationOf({ 'm.relates_to': { rel_type: 'm.thread' } }), undefined);
    assert.equal(relationOf({ 'm.relates_to': { rel_type: 1, event_id: '$e' } }), undefined);
    assert.equal(relationOf({ 'm.relates_to': 'nope' }), undefined);
    assert.equal(relationOf(undefined), undefined);
  });
});

describe('threadIdOf', () => {
  it('puts thread events in their root’s thread and the rest in their parent’s', () => {
    assert.equal(threadIdOf(undefined, '$ignored'), MAIN_THREAD, 'no relation: main');
    assert.equal(threadIdOf({ relType: 'm.thread', eventId: '$root' }, MAIN_THREAD), '$root');
    const reaction = { relType: 'm.annotation', eventId: '$reply', key: 'x' };
    assert.equal(threadIdOf(reaction, '$root'), '$root', 'a reaction to a thread reply');
    assert.equal(threadIdOf(reaction, MAIN_THREAD), MAIN_THREAD, 'a reaction to a root');
  });
});

describe('edit validity', () => {
  it('accepts an edit by the same sender, of the same type, with m.new_content', () => {
    assert.equal(isValidEdit(original, editOf()), true);
  });

  it('refuses each broken rule of the spec', () => {
    const broken: [string, EditCandidate, EditCandidate][] = [
      ['another sender', original, editOf({ sender: '@bob:x' })],
      ['another type', original, editOf({ type: 'm.sticker' })],
      ['another room', original, editOf({ roomId: '!other' })],
      ['a state original', { ...original, isState: true }, editOf()],
      ['a state edit', original, editOf({ isState: true })],
      ['an edit of an edit', { ...original, relType: 'm.replace' }, editOf()],
      ['no m.new_content', original, editOf({ hasNewContent: false })],
      ['not a replacement', original, editOf({ relType: 'm.annotation' })],
    ];
    for (const [what, orig, edit] of broken) assert.equal(isValidEdit(orig, edit), false, what);
  });

  it('trusts an encrypted edit to carry m.new_content in its ciphertext', () => {
    const encrypted = { ...original, type: 'm.room.encrypted' };
    const edit = editOf({ type: 'm.room.encrypted', hasNewContent: false });
    assert.equal(isValidEdit(encrypted, edit), true);
  });

  it('picks the latest valid edit by timestamp, then by the greatest event ID', () => {
    const early = editOf({ eventId: '$a', originServerTs: 2000 });
    const late = editOf({ eventId: '$b', originServerTs: 3000 });
    const tie = editOf({ eventId: '$c', originServerTs: 3000 });
    const invalidLatest = editOf({ eventId: '$z', originServerTs: 9000, sender: '@bob:x' });
    assert.equal(latestValidEdit(original, [early, late, invalidLatest])?.eventId, '$b');
    assert.equal(latestValidEdit(original, [tie, late, early])?.eventId, '$c');
    assert.equal(latestValidEdit(original, [invalidLatest]), undefined);
  });
});

describe('mayBundle', () => {
  it('gives state events, edits and annotations nothing, and related events no thread', () => {
    assert.equal(mayBundle({ isState: false }, 'thread'), true);
    assert.equal(mayBundle({ isState: true }, 'other'), false);
    assert.equal(mayBundle({ isState: false, relType: 'm.replace' }, 'other'), false);
    assert.equal(mayBundle({ isState: false, relType: 'm.annotation' }, 'other'), false);
    assert.equal(mayBundle({ isState: false, relType: 'm.thread' }, 'other'), true);
    assert.equal(mayBundle({ isState: false, relType: 'm.thread' }, 'thread'), false);
  });
});

describe('migration 11 backfill', () => {
  it('indexes the relations of events stored before it, not redacted ones', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weft-relations-'));
    const db = new Database(path.join(dir, 'db.sqlite'));
    try {
      for (const m of migrations.filter((m) => m.version < 11)) db.exec(m.sql);
      const insert = db.prepare(
        `INSERT INTO events (event_id, room_id, type, state_key, sender, depth, state_group, json)
         VALUES (?, '!r', ?, NULL, ?, 1, 1, ?)`,
      );
      const event = (id: string, type: string, sender: string, content: object) =>
        insert.run(
          id,
          type,
          sender,
          JSON.stringify({ type, sender, content, origin_server_ts: 5 }),
        );
      event('$root', 'm.room.message', '@a:x', { body: 'root' });
      event('$t1', 'm.room.message', '@b:x', {
        'm.relates_to': { rel_type: 'm.thread', event_id: '$root' },
      });
      event('$r1', 'm.reaction', '@a:x', {
        'm.relates_to': { rel_type: 'm.annotation', event_id: '$t1', key: '👍' },
      });
      event('$e1', 'm.room.message', '@a:x', {
        'm.relates_to': { rel_type: 'm.replace', event_id: '$root' },
        'm.new_content': { body: 'edited' },
      });
      event('$gone', 'm.room.message', '@b:x', {
        'm.relates_to': { rel_type: 'm.thread', event_id: '$root' },
      });
      db.prepare("INSERT INTO redactions VALUES ('$gone', '$redaction')").run();

      db.exec(migrations.find((m) => m.version === 11)!.sql);

      const rows = db
        .prepare(
          `SELECT event_id, relates_to, rel_type, aggregation_key, has_new_content, thread_id
           FROM event_relations ORDER BY event_id`,
        )
        .all();
      assert.deepEqual(rows, [
        {
          event_id: '$e1',
          relates_to: '$root',
          rel_type: 'm.replace',
          aggregation_key: null,
          has_new_content: 1,
          thread_id: null,
        },
        {
          event_id: '$r1',
          relates_to: '$t1',
          rel_type: 'm.annotation',
          aggregation_key: '👍',
          has_new_content: 0,
          thread_id: '$root',
        },
        {
          event_id: '$t1',
          relates_to: '$root',
          rel_type: 'm.thread',
          aggregation_key: null,
          has_new_content: 0,
          thread_id: '$root',
        },
      ]);
      const threads = db.prepare('SELECT root_id, room_id FROM threads').all();
      assert.deepEqual(threads, [{ root_id: '$root', room_id: '!r' }]);
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
