import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { signingKeyFromSeed, verifyJsonSignature } from '../../src/events/signing.js';
import {
  parseXMatrix,
  requestSigningJson,
  xMatrixAuthorization,
} from '../../src/federation/request-auth.js';

// The spec appendix's test vector key.
const KEY = signingKeyFromSeed('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1', 'ed25519:1');

const REQUEST = {
  method: 'PUT',
  uri: '/_matrix/federation/v1/send/1234?a=b%20c',
  origin: 'origin.example.org:8448',
  destination: 'destination.example.org',
  content: { pdus: [], edus: [{ edu_type: 'm.typing' }] },
};

describe('requestSigningJson', () => {
  it('holds method, uri, origin, destination and the body', () => {
    assert.deepEqual(requestSigningJson(REQUEST), REQUEST);
  });

  it('leaves content out when there is no body', () => {
    const json = requestSigningJson({ ...REQUEST, content: undefined });
    assert.deepEqual(Object.keys(json).sort(), ['destination', 'method', 'origin', 'uri']);
  });

  it('keeps a body that is not an object', () => {
    assert.deepEqual(requestSigningJson({ ...REQUEST, content: [1, 2] }).content, [1, 2]);
  });
});

describe('xMatrixAuthorization', () => {
  it('writes the header as the spec asks senders to, and it parses back', () => {
    const header = xMatrixAuthorization(REQUEST, KEY);
    assert.match(
      header,
      /^X-Matrix origin="origin\.example\.org:8448",destination="destination\.example\.org",key="ed25519:1",sig="[A-Za-z0-9+/]+"$/,
    );
    const parsed = parseXMatrix(header);
    assert.ok(parsed);
    assert.equal(parsed.origin, REQUEST.origin);
    assert.equal(parsed.destination, REQUEST.destination);
    assert.equal(parsed.key, 'ed25519:1');
  });

  it('signs the request JSON with the origin key (the receiver can verify it)', () => {
    const parsed = parseXMatrix(xMatrixAuthorization(REQUEST, KEY))!;
    const signed = {
      ...requestSigningJson(REQUEST),
      signatures: { [parsed.origin]: { [parsed.key]: parsed.sig } },
    };
    assert.equal(
      verifyJsonSignature(signed, REQUEST.origin, 'ed25519:1', KEY.publicKeyBase64),
      true,
    );
    const tampered = { ...signed, uri: '/_matrix/federation/v1/send/1235' };
    assert.equal(
      verifyJsonSignature(tampered, REQUEST.origin, 'ed25519:1', KEY.publicKeyBase64),
      false,
    );
  });

  it('signs the destination too', () => {
    const parsed = parseXMatrix(xMatrixAuthorization(REQUEST, KEY))!;
    const elsewhere = {
      ...requestSigningJson({ ...REQUEST, destination: 'other.example.org' }),
      signatures: { [parsed.origin]: { [parsed.key]: parsed.sig } },
    };
    assert.equal(
      verifyJsonSignature(elsewhere, REQUEST.origin, 'ed25519:1', KEY.publicKeyBase64),
      false,
    );
  });
});

describe('parseXMatrix', () => {
  it("reads the spec's example", () => {
    assert.deepEqual(
      parseXMatrix(
        'X-Matrix origin="origin.hs.example.com",destination="destination.hs.example.com",key="ed25519:key1",sig="ABCDEF..."',
      ),
      {
        origin: 'origin.hs.example.com',
        destination: 'destination.hs.example.com',
        key: 'ed25519:key1',
        sig: 'ABCDEF...',
      },
    );
  });

  it('accepts a header without destination (servers before v1.3)', () => {
    assert.deepEqual(parseXMatrix('X-Matrix origin=a.org,key="ed25519:1",sig="c2ln"'), {
      origin: 'a.org',
      key: 'ed25519:1',
      sig: 'c2ln',
    });
  });

  it('accepts unquoted values, colons included, and any order', () => {
    assert.deepEqual(parseXMatrix('X-Matrix sig=c2ln,key=ed25519:1,origin=a.org:8448'), {
      origin: 'a.org:8448',
      key: 'ed25519:1',
      sig: 'c2ln',
    });
  });

  it('tolerates spaces and tabs around commas and several after the scheme', () => {
    assert.deepEqual(parseXMatrix('X-Matrix   origin="a.org" ,\tkey="ed25519:1" , sig="c2ln"  '), {
      origin: 'a.org',
      key: 'ed25519:1',
      sig: 'c2ln',
    });
  });

  it('compares the scheme and the names case-insensitively', () => {
    assert.deepEqual(parseXMatrix('x-matrix Origin="a.org",KEY="ed25519:1",Sig="c2ln"'), {
      origin: 'a.org',
      key: 'ed25519:1',
      sig: 'c2ln',
    });
  });

  it('unescapes backslash pairs in quoted values', () => {
    assert.equal(
      parseXMatrix('X-Matrix origin="a\\"b\\\\c",key="ed25519:1",sig="c2ln"')?.origin,
      'a"b\\c',
    );
  });

  it('ignores unknown parameters', () => {
    assert.equal(
      parseXMatrix('X-Matrix origin="a.org",future="x, y",key="ed25519:1",sig="c2ln"')?.sig,
      'c2ln',
    );
  });

  it('refuses malformed headers', () => {
    const malformed = [
      '',
      'Bearer abc',
      'X-Matrix',
      'X-Matrixorigin="a.org",key="ed25519:1",sig="c2ln"',
      'X-Matrix origin="a.org",key="ed25519:1"', // no sig
      'X-Matrix key="ed25519:1",sig="c2ln"', // no origin
      'X-Matrix origin="a.org",sig="c2ln"', // no key
      'X-Matrix origin="a.org",key="ed25519:1",sig="c2ln', // unclosed quote
      'X-Matrix origin="a.org",key="ed25519:1",sig="c2ln\\', // dangling escape
      'X-Matrix origin="a.org" key="ed25519:1",sig="c2ln"', // no comma
      'X-Matrix origin="a.org",,key="ed25519:1",sig="c2ln"', // empty parameter
      'X-Matrix origin=,key="ed25519:1",sig="c2ln"', // empty token value
      'X-Matrix origin="",key="ed25519:1",sig="c2ln"', // empty origin
      'X-Matrix origin=a b,key="ed25519:1",sig="c2ln"', // space inside a token
      'X-Matrix origin="a.org",origin="b.org",key="ed25519:1",sig="c2ln"', // repeated
      'X-Matrix origin="a.org",key="ed25519:1",sig="c2ln",', // trailing comma
      'X-Matrix origin,key="ed25519:1",sig="c2ln"', // no value
    ];
    for (const header of malformed) assert.equal(parseXMatrix(header), undefined, header);
  });
});
