/**
 * Encrypted chat across servers: alice on a.test and bob on b.test, each with
 * matrix-js-sdk@37.5.0 and Rust crypto, share an encrypted room and each
 * decrypts the other's message (test/support/encrypted-chat.ts says what that
 * takes of the servers).
 */
import { after, afterEach, before, describe, it } from 'node:test';
import { Api, InProcessServer } from '../support/fixture.js';
import { SdkClients, sdkSuite } from '../support/sdk.js';
import { encryptedChat } from '../support/encrypted-chat.js';
import { federatingConfig, freePort } from '../support/federation-pair.js';

// The Rust crypto's tracing writes straight to the console: keep the test output clean.
const quietConsole = { debug: console.debug, info: console.info, warn: console.warn };
console.debug = console.info = console.warn = () => {};

// The ports first: each server's config names the other's.
const [portA, portB] = [await freePort(), await freePort()];

describe(
  'encrypted chat between two Wefts (matrix-js-sdk, Rust crypto)',
  { timeout: 120_000 },
  () => {
    // a.test is the SDK suite's own server; b.test is started beside it.
    const suite = sdkSuite(federatingConfig('a.test', portA, 'b.test', portB));
    const serverB = new InProcessServer(federatingConfig('b.test', portB, 'a.test', portA));
    const apiB = new Api(() => serverB.url);
    const clientsB = new SdkClients(() => serverB.url);

    before(() => serverB.start());
    afterEach(() => clientsB.stop());
    after(async () => {
      await serverB.close();
      Object.assign(console, quietConsole);
    });

    it('lets each side decrypt the other side’s messages', async () => {
      await encryptedChat(
        { clients: suite.clients, session: await suite.api.register('alice') },
        { clients: clientsB, session: await apiB.register('bob') },
      );
    });
  },
);
