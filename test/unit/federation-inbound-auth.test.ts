import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { signingKeyFromSeed } from '../../src/events/signing.js';
import { InboundAuth, type InboundRequest } from '../../src/federation/inbound-auth.js';
import { xMatrixAuthorization } from '../../src/federation/request-auth.js';
import { MatrixError } from '../../src/protocol/errors.js';

const US = 'us.example';
const ORIGIN = 'origin.example:8448';
const KEY = signingKeyFromSeed(Buffer.alloc(32, 7).toString('base64'), 'ed25519:o1');
const OTHER = signingKeyFromSeed(Buffer.alloc(32, 8).toString('base64'), 'ed25519:o1');

/** The origin's keys as KeyService would give them; records what was asked. */
function keySource() {
  const asked: string[] = [];
  return {
    asked,
    async verifyKeyFor(serverName: string, keyId: string) {
      asked.push(`${serverName} ${keyId}`);
      return serverName === ORIGIN && keyId === KEY.keyId ? KEY.publicKeyBase64 : undefined;
    },
  };
}

const URI = '/_matrix/federation/v1/send/txn1?x=%20y';
const BODY = { pdus: [], edus: [] };

function request(authorization: string[], overrides: Partial<InboundRequest> = {}): InboundRequest {
  return { method: 'PUT', uri: URI, body: BODY, authorization, ...overrides };
}

const header = (overrides: { destination?: string; uri?: string; key?: typeof KEY } = {}) =>
  xMatrixAuthorization(
    {
      method: 'PUT',
      uri: overrides.uri ?? URI,
      origin: ORIGIN,
      destination: overrides.destination ?? US,
      content: BODY,
    },
    overrides.key ?? KEY,
  );

async function refusal(auth: InboundAuth, req: InboundRequest): Promise<string> {
  try {
    await auth.authenticate(req);
  } catch (err) {
    assert.ok(err instanceof MatrixError);
    assert.equal(err.status, 401);
    assert.equal(err.errcode, 'M_UNAUTHORIZED');
    return err.message;
  }
  assert.fail('authenticated');
}

describe('InboundAuth', () => {
  it('returns the origin of a valid signature', async () => {
    const auth = new InboundAuth(US, keySource());
    assert.equal(await auth.authenticate(request([header()])), ORIGIN);
  });

  it('accepts a request without destination signed for us (servers before v1.3)', async () => {
    const auth = new InboundAuth(US, keySource());
    const withoutDestination = header().replace(`destination="${US}",`, '');
    assert.equal(await auth.authenticate(request([withoutDestination])), ORIGIN);
  });

  it('signs nothing without a body: content left out', async () => {
    const auth = new InboundAuth(US, keySource());
    const get = xMatrixAuthorization(
      { method: 'GET', uri: '/_matrix/federation/v1/version', origin: ORIGIN, destination: US },
      KEY,
    );
    const req = request([get], {
      method: 'GET',
      uri: '/_matrix/federation/v1/version',
      body: undefined,
    });
    assert.equal(await auth.authenticate(req), ORIGIN);
    assert.match(await refusal(auth, { ...req, body: {} }), /Invalid signature/);
  });

  it('refuses an unsigned request and other schemes', async () => {
    const auth = new InboundAuth(US, keySource());
    assert.match(await refusal(auth, request([])), /Missing X-Matrix/);
    assert.match(await refusal(auth, request(['Bearer abc'])), /Missing X-Matrix/);
    assert.match(await refusal(auth, request(['X-Matrix origin=broken'])), /Missing X-Matrix/);
  });

  it('refuses a request for another destination before fetching any key', async () => {
    const keys = keySource();
    const auth = new InboundAuth(US, keys);
    assert.match(
      await refusal(auth, request([header({ destination: 'else.example' })])),
      /for else\.example/,
    );
    assert.deepEqual(keys.asked, []);
  });

  it('refuses signatures by another key, over other contents, or with an unknown key', async () => {
    const auth = new InboundAuth(US, keySource());
    assert.match(await refusal(auth, request([header({ key: OTHER })])), /Invalid signature/);
    assert.match(
      await refusal(auth, request([header()], { body: { pdus: [1], edus: [] } })),
      /Invalid signature/,
    );
    assert.match(await refusal(auth, request([header()], { method: 'POST' })), /Invalid signature/);
    // The query string is signed too.
    assert.match(
      await refusal(auth, request([header({ uri: '/_matrix/federation/v1/send/txn1' })])),
      /Invalid signature/,
    );
    const unknownKey = header().replace('ed25519:o1', 'ed25519:zz');
    assert.match(await refusal(auth, request([unknownKey])), /No valid key ed25519:zz/);
    const otherAlgorithm = header().replace('ed25519:o1', 'curve:o1');
    assert.match(await refusal(auth, request([otherAlgorithm])), /Unsupported key algorithm/);
  });

  it('refuses an origin that is no server name without asking for its keys', async () => {
    const keys = keySource();
    const auth = new InboundAuth(US, keys);
    const bad = header().replace(`origin="${ORIGIN}"`, 'origin="bad name!"');
    assert.match(await refusal(auth, request([bad])), /not a server name/);
    assert.deepEqual(keys.asked, []);
  });

  it('takes any valid one of several X-Matrix headers', async () => {
    const auth = new InboundAuth(US, keySource());
    const wrong = header({ key: OTHER });
    assert.equal(await auth.authenticate(request(['Bearer x', wrong, header()])), ORIGIN);
  });

  it('refuses a body canonical JSON cannot encode, as unsigned', async () => {
    const auth = new InboundAuth(US, keySource());
    assert.match(
      await refusal(auth, request([header()], { body: { n: 0.5 } })),
      /Invalid signature/,
    );
  });
});
