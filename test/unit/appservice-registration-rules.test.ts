/** The rules of application service registrations: each field checked, namespaces, exclusivity. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkDistinct,
  exclusiveOwner,
  inNamespace,
  mayActAs,
  parseRegistration,
  RegistrationError,
  senderUserId,
} from '../../src/appservice/registration-rules.js';

const FILE = '/etc/weft/bridge.yaml';

function document(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'bridge',
    url: 'http://127.0.0.1:29318/',
    as_token: 'as-secret',
    hs_token: 'hs-secret',
    sender_localpart: 'bridgebot',
    namespaces: {
      users: [{ regex: '@bridge_.*:example\\.org', exclusive: true }],
      aliases: [{ regex: '#bridge_.*:example\\.org', exclusive: false }],
      rooms: [],
    },
    ...extra,
  };
}

/** Asserts the document is refused with a message naming the file and the field. */
function refuses(doc: unknown, field: string): void {
  assert.throws(
    () => parseRegistration(doc, FILE),
    (error: unknown) => {
      assert.ok(error instanceof RegistrationError, String(error));
      assert.ok(error.message.startsWith(`${FILE}: `), error.message);
      assert.ok(error.message.includes(field), `${error.message} names ${field}`);
      return true;
    },
  );
}

describe('parseRegistration', () => {
  it('reads every field, with the defaults Synapse uses', () => {
    const registration = parseRegistration(document(), FILE);
    assert.equal(registration.id, 'bridge');
    assert.equal(registration.url, 'http://127.0.0.1:29318', 'a trailing slash is dropped');
    assert.equal(registration.asToken, 'as-secret');
    assert.equal(registration.hsToken, 'hs-secret');
    assert.equal(registration.senderLocalpart, 'bridgebot');
    assert.equal(registration.rateLimited, true, 'absent rate_limited means limited');
    assert.deepEqual(registration.protocols, []);
    assert.equal(registration.ephemeral, 'none');
    assert.equal(registration.msc3202, false);
    assert.equal(registration.msc4190, false);
    assert.equal(registration.file, FILE);
    assert.equal(registration.namespaces.users[0]?.exclusive, true);
    assert.equal(registration.namespaces.aliases[0]?.exclusive, false);
  });

  it('reads the optional flags and the unstable ephemeral field', () => {
    const stable = parseRegistration(
      document({
        rate_limited: false,
        protocols: ['irc'],
        receive_ephemeral: true,
        'org.matrix.msc3202': true,
        'io.element.msc4190': true,
      }),
      FILE,
    );
    assert.equal(stable.rateLimited, false);
    assert.deepEqual(stable.protocols, ['irc']);
    assert.equal(stable.ephemeral, 'stable');
    assert.equal(stable.msc3202, true);
    assert.equal(stable.msc4190, true);
    const unstable = parseRegistration(
      document({ 'de.sorunome.msc2409.push_ephemeral': true }),
      FILE,
    );
    assert.equal(unstable.ephemeral, 'msc2409');
  });

  it('accepts a null url (a service that receives nothing) and no namespaces', () => {
    const registration = parseRegistration(document({ url: null, namespaces: undefined }), FILE);
    assert.equal(registration.url, null);
    assert.deepEqual(registration.namespaces, { users: [], aliases: [], rooms: [] });
  });

  it('refuses each bad field, naming the file and the field', () => {
    refuses('just text', 'the file');
    refuses(document({ id: '' }), 'id');
    refuses(document({ as_token: 42 }), 'as_token');
    refuses(document({ hs_token: undefined }), 'hs_token');
    refuses(document({ url: 'ftp://example.org' }), 'url');
    refuses(document({ sender_localpart: 'Bad Bot' }), 'sender_localpart');
    refuses(document({ rate_limited: 'yes' }), 'rate_limited');
    refuses(document({ protocols: 'irc' }), 'protocols');
    refuses(document({ namespaces: [] }), 'namespaces');
    refuses(document({ namespaces: { users: {} } }), 'namespaces.users');
    refuses(document({ namespaces: { users: ['x'] } }), 'namespaces.users[0]');
    refuses(document({ namespaces: { rooms: [{ regex: '' }] } }), 'namespaces.rooms[0].regex');
    refuses(
      document({ namespaces: { aliases: [{ regex: '#a', exclusive: 'no' }] } }),
      'namespaces.aliases[0].exclusive',
    );
    refuses(document({ namespaces: { users: [{ regex: '@(unclosed' }] } }), 'is not a regular');
  });
});

describe('namespaces', () => {
  const registration = parseRegistration(
    document({
      namespaces: {
        users: [{ regex: '@(?P<net>irc)_.*:example\\.org', exclusive: true }],
        aliases: [{ regex: '#irc_.*', exclusive: true }],
        rooms: [{ regex: '!bridged:example\\.org', exclusive: false }],
      },
    }),
    FILE,
  );

  it('match from the start, not to the end (Python re.match), with named groups translated', () => {
    assert.equal(inNamespace(registration, 'users', '@irc_alice:example.org'), true);
    assert.equal(inNamespace(registration, 'users', '@irc_alice:example.org.evil'), true);
    assert.equal(inNamespace(registration, 'users', '@x@irc_alice:example.org'), false);
    assert.equal(inNamespace(registration, 'aliases', '#irc_x:example.org'), true);
    assert.equal(inNamespace(registration, 'rooms', '!bridged:example.org'), true);
    assert.equal(inNamespace(registration, 'rooms', '!other:example.org'), false);
  });

  it('let a service act as its sender and its users only', () => {
    assert.equal(senderUserId(registration, 'example.org'), '@bridgebot:example.org');
    assert.equal(mayActAs(registration, '@bridgebot:example.org', 'example.org'), true);
    assert.equal(mayActAs(registration, '@irc_bob:example.org', 'example.org'), true);
    assert.equal(mayActAs(registration, '@bob:example.org', 'example.org'), false);
  });

  it('name the service owning a value exclusively, other than the one asking', () => {
    const other = parseRegistration(
      document({
        id: 'other',
        as_token: 'other-token',
        namespaces: { users: [{ regex: '@shared_.*', exclusive: false }] },
      }),
      FILE,
    );
    const all = [registration, other];
    assert.equal(exclusiveOwner(all, 'users', '@irc_x:example.org'), registration);
    assert.equal(exclusiveOwner(all, 'users', '@irc_x:example.org', registration), undefined);
    assert.equal(exclusiveOwner(all, 'users', '@shared_x:example.org'), undefined);
    assert.equal(exclusiveOwner(all, 'rooms', '!bridged:example.org'), undefined);
  });
});

describe('checkDistinct', () => {
  it('refuses two services with one id or one as_token, naming both files', () => {
    const first = parseRegistration(document(), '/a.yaml');
    const sameToken = parseRegistration(document({ id: 'other' }), '/b.yaml');
    assert.throws(() => checkDistinct([first, sameToken]), /\/b\.yaml: as_token .*\/a\.yaml/);
    const sameId = parseRegistration(document({ as_token: 'another' }), '/c.yaml');
    assert.throws(() => checkDistinct([first, sameId]), /\/c\.yaml: id bridge .*\/a\.yaml/);
    assert.doesNotThrow(() =>
      checkDistinct([first, parseRegistration(document({ id: 'x', as_token: 'y' }), '/d.yaml')]),
    );
  });
});
