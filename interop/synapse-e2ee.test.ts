/**
 * Weft ↔ Synapse, scenario 6 (docs/interop.md): encrypted chat between a Weft
 * user and a Synapse user, each with matrix-js-sdk@37.5.0 and Rust crypto,
 * in a room made on Synapse and in one made on Weft; each side decrypts the
 * other's messages (test/support/encrypted-chat.ts: keys queried and claimed
 * over federation, to-device messages as EDUs). Not part of `npm test`; run
 * with scripts/interop.sh or
 *   node --import tsx --test interop/synapse-e2ee.test.ts
 */
import { after, afterEach, before, describe, test } from 'node:test';
import type { Session } from '../test/support/client.js';
import { encryptedChat, type ChatSide } from '../test/support/encrypted-chat.js';
import { releaseTimers, SdkClients } from '../test/support/sdk.js';
import { canRunSynapse } from './synapse-peer.js';
import { startPair, type WeftSynapsePair } from './weft-synapse.js';

const skip = canRunSynapse() ? false : 'the Synapse peer needs root';

// The Rust crypto's tracing writes straight to the console: keep the test output clean.
// So does its MatrixRTC session manager, through console.log, for every room state event.
const quietConsole = {
  debug: console.debug,
  info: console.info,
  warn: console.warn,
  log: console.log,
};
console.debug = console.info = console.warn = () => {};
console.log = (...args: unknown[]) => {
  if (!String(args[0]).startsWith('[MatrixRTCSessionManager]')) quietConsole.log(...args);
};

describe('encrypted chat between Weft and Synapse', { skip, timeout: 10 * 60_000 }, () => {
  let pair: WeftSynapsePair;
  let weftClients: SdkClients;
  let synapseClients: SdkClients;

  before(async () => {
    pair = await startPair();
    weftClients = new SdkClients(() => pair.weft.url);
    synapseClients = new SdkClients(() => pair.synapse.clientUrl);
  });
  afterEach(() => {
    weftClients.stop();
    synapseClients.stop();
  });
  after(async () => {
    await pair?.close();
    releaseTimers();
    Object.assign(console, quietConsole);
  });

  /** A Synapse user with a device of its own: registered, then logged in by password. */
  async function onSynapse(localpart: string): Promise<ChatSide> {
    await pair.registerOnSynapse(localpart);
    const login = await pair.synapseApi.login(localpart, `${localpart}-password`);
    if (login.status !== 200) throw new Error(`login on Synapse: ${login.status}`);
    return { clients: synapseClients, session: login.body as Session };
  }
  const onWeft = async (localpart: string): Promise<ChatSide> => ({
    clients: weftClients,
    session: await pair.registerOnWeft(localpart),
  });

  // A failed scenario keeps the folder with both servers' logs.
  const scenario = (name: string, run: () => Promise<void>) => test(name, () => pair.run(run));

  scenario('6a. in a Synapse room, each decrypts the other', async () => {
    await encryptedChat(await onSynapse('alice'), await onWeft('bob'));
  });
  scenario('6b. in a Weft room, each decrypts the other', async () => {
    await encryptedChat(await onWeft('dave'), await onSynapse('carol'));
  });
});
