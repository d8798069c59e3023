/**
 * Issue 24: application service transactions. A plain node:http service in
 * this process watches a room (by its `#bridged_…` alias); messages go into the
 * room, a few in flight. Measured: the time from the first send until the
 * service has every message, and client send throughput with a slow service
 * (100 ms per transaction) attached against none.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { clientRequest } from './http-client.js';
import { registerUser } from './workloads.js';
import { startWeftServer, type ChildServer } from './server-process.js';

export interface AppServiceBenchResult {
  messages: number;
  /** From the first send until the service had every message. */
  deliverySeconds: number;
  transactions: number;
  /** Sends per second with a service answering each transaction after 100 ms. */
  slowServiceSendRate: number;
  /** Sends per second with no service registered. */
  noServiceSendRate: number;
}

const IN_FLIGHT = 4;

/** A service counting the messages it receives; answers after `delayMs`. */
async function countingService(delayMs: number) {
  const seen = new Set<string>();
  let transactions = 0;
  let onEvent = () => {};
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method === 'PUT' && req.url?.startsWith('/_matrix/app/v1/transactions/')) {
        transactions++;
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          events: { event_id: string; type: string }[];
        };
        for (const event of body.events)
          if (event.type === 'm.room.message') seen.add(event.event_id);
        onEvent();
      }
      setTimeout(
        () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'),
        delayMs,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    seen,
    transactions: () => transactions,
    waitFor: (count: number) =>
      new Promise<void>((resolve) => {
        onEvent = () => seen.size >= count && resolve();
        onEvent();
      }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function registrationFile(url: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-bench-as-'));
  const file = path.join(dir, 'bridge.yaml');
  writeFileSync(
    file,
    [
      'id: bench-bridge',
      `url: ${JSON.stringify(url)}`,
      'as_token: bench-as-token',
      'hs_token: bench-hs-token',
      'sender_localpart: benchbridge',
      'namespaces:',
      '  users: []',
      '  aliases:',
      '    - regex: "#bridged_.*"',
      '      exclusive: false',
      '',
    ].join('\n'),
  );
  return file;
}

/** Sends `messages` into a watched room; answers the event IDs and the send rate. */
async function sendMessages(weft: ChildServer, messages: number, name: string) {
  const token = await registerUser(weft.url, name, 'bench-pw');
  const { room_id: roomId } = await clientRequest<{ room_id: string }>(
    weft.url,
    'POST',
    token,
    '/createRoom',
    { room_alias_name: `bridged_${name}` },
  );
  const started = performance.now();
  let next = 0;
  const ids: string[] = [];
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < messages) {
        const n = next++;
        const { event_id } = await clientRequest<{ event_id: string }>(
          weft.url,
          'PUT',
          token,
          `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/m${n}`,
          { msgtype: 'm.text', body: `message ${n}` },
        );
        ids.push(event_id);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { ids, started, rate: messages / seconds };
}

export async function appServiceWorkload(messages: number): Promise<AppServiceBenchResult> {
  // 1. Delivery: a prompt service; time until it has every message.
  const prompt = await countingService(0);
  const weft = await startWeftServer({
    logRequests: false,
    configLines: [`app_service_config_files: [${JSON.stringify(registrationFile(prompt.url))}]`],
  });
  let deliverySeconds: number;
  let transactions: number;
  try {
    const sent = await sendMessages(weft, messages, 'prompt');
    await prompt.waitFor(messages);
    deliverySeconds = (performance.now() - sent.started) / 1000;
    transactions = prompt.transactions();
  } finally {
    await weft.stop();
    await prompt.close();
  }
  // 2. Throughput with a slow service (100 ms per transaction), then with none.
  const slow = await countingService(100);
  const slowWeft = await startWeftServer({
    logRequests: false,
    configLines: [`app_service_config_files: [${JSON.stringify(registrationFile(slow.url))}]`],
  });
  let slowRate: number;
  try {
    slowRate = (await sendMessages(slowWeft, messages, 'slow')).rate;
  } finally {
    await slowWeft.stop();
    await slow.close();
  }
  const bare = await startWeftServer({ logRequests: false });
  let bareRate: number;
  try {
    bareRate = (await sendMessages(bare, messages, 'none')).rate;
  } finally {
    await bare.stop();
  }
  return {
    messages,
    deliverySeconds,
    transactions,
    slowServiceSendRate: slowRate,
    noServiceSendRate: bareRate,
  };
}
