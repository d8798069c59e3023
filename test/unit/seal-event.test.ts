import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson, canonicalJsonBytes } from '../../src/events/canonical-json.js';
import { addContentHash, referenceHash } from '../../src/events/hashing.js';
import type { Pdu } from '../../src/events/pdu.js';
import { sealEvent, signEvent, signingKeyFromSeed } from '../../src/events/signing.js';
import { MatrixError } from '../../src/protocol/errors.js';
import { roomVersion } from '../../src/events/room-versions.js';

const KEY = signingKeyFromSeed('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1', 'ed25519:1');
const SERVER = 'domain';

function pdu(overrides: Partial<Pdu> = {}): Pdu {
  return {
    type: 'm.room.message',
    room_id: '!r:domain',
    sender: '@u:domain',
    origin_server_ts: 1000,
    content: { body: 'héllo 😀 \u2028', msgtype: 'm.text' },
    prev_events: ['$prev'],
    auth_events: ['$a', '$b'],
    depth: 2,
    hashes: { sha256: '' },
    signatures: {},
    ...overrides,
  };
}

describe('sealEvent: the outgoing-event step in one pass', () => {
  const cases: [string, Pdu][] = [
    ['a message', pdu()],
    [
      'with unsigned and an existing signature',
      pdu({
        unsigned: { age: 5 },
        signatures: { other: { 'ed25519:x': 'sig' } },
      }),
    ],
    [
      'a state event',
      pdu({ type: 'm.room.member', state_key: '@u:domain', content: { membership: 'join' } }),
    ],
  ];
  for (const version of ['10', '11', '12'].map(roomVersion)) {
    for (const [name, event] of cases) {
      it(`${name} (v${version.id}): same PDU, reference hash and size as each step alone`, () => {
        const sealed = sealEvent(event, SERVER, KEY, version);
        const stepByStep = signEvent(addContentHash(event), SERVER, KEY, version);
        assert.deepEqual(sealed.pdu, stepByStep);
        assert.deepEqual(sealed.referenceHash, referenceHash(stepByStep, version));
        assert.equal(sealed.byteLength, canonicalJsonBytes(stepByStep).length);
      });
    }
  }

  it('sizes an event whose hashed part is empty', () => {
    const event = { hashes: {}, signatures: {} } as unknown as Pdu;
    const sealed = sealEvent(event, SERVER, KEY, roomVersion('11'));
    assert.equal(sealed.byteLength, Buffer.byteLength(canonicalJson(sealed.pdu)));
  });

  it('refuses what canonical JSON cannot hold, as before', () => {
    assert.throws(
      () => sealEvent(pdu({ content: { n: 1.5 } }), SERVER, KEY, roomVersion('11')),
      (err: unknown) => err instanceof MatrixError && err.errcode === 'M_BAD_JSON',
    );
    assert.throws(
      () => sealEvent(pdu({ unsigned: { n: 1.5 } }), SERVER, KEY, roomVersion('11')),
      (err: unknown) => err instanceof MatrixError && err.errcode === 'M_BAD_JSON',
    );
  });
});
