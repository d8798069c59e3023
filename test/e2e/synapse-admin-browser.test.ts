/**
 * Ketesa (formerly etke.cc's synapse-admin, the admin web UI most operators
 * use) against Weft in a real headless Chromium: it logs in, then its user
 * and room lists load and show what the server holds. The app is a release
 * build kept in test/vendor/ketesa (see its README), served from a second
 * origin as operators deploy it, so CORS on `/_synapse/admin` is exercised too.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CLIENT_V3, serverSuite } from '../support/fixture.js';
import { DEFAULT_PASSWORD } from '../support/client.js';

const APP_DIR = fileURLToPath(new URL('../vendor/ketesa/app/', import.meta.url));
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.css': 'text/css',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
};

/** A static file server for the app on a free port of 127.0.0.1. */
async function serveApp(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://app').pathname;
    const file = normalize(join(APP_DIR, path.endsWith('/') ? `${path}index.html` : path));
    if (!file.startsWith(APP_DIR)) {
      res.writeHead(404).end();
      return;
    }
    readFile(file).then(
      (body) => {
        const type = CONTENT_TYPES[extname(file)] ?? 'application/octet-stream';
        res.writeHead(200, { 'Content-Type': type }).end(body);
      },
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/` };
}

describe('Ketesa (synapse-admin) in a browser', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [root, alice] = suite.users('root', 'alice');
  let browser: Browser;
  let app: { server: Server; url: string };
  let page: Page;
  const pageErrors: Error[] = [];
  const failedAdminCalls: string[] = [];

  before(async () => {
    assert.equal(await suite.server.weft.storage.users.setAdmin(root.user_id, true), true);
    const created = await api.post(
      `${CLIENT_V3}/createRoom`,
      { name: 'Operators lounge' },
      { token: alice.access_token },
    );
    assert.equal(created.status, 200, JSON.stringify(created.body));
    app = await serveApp();
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    const context = await browser.newContext();
    context.setDefaultTimeout(20_000);
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err));
    page.on('response', (response) => {
      const url = new URL(response.url());
      if (url.pathname.startsWith('/_synapse/admin/') && response.status() >= 400) {
        failedAdminCalls.push(
          `${response.request().method()} ${url.pathname} → ${response.status()}`,
        );
      }
    });
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => app?.server.close(resolve));
  });

  it('logs in as a server admin', async () => {
    // The login form is prefilled from the query (password too, on 127.0.0.1 only).
    const query = new URLSearchParams({
      username: 'root',
      password: DEFAULT_PASSWORD,
      server: suite.server.url,
    });
    await page.goto(`${app.url}?${query}`);
    await page.getByRole('button', { name: /sign in/i }).click();
    await page.waitForURL(/#\/(users)?$/);
  });

  it('lists the users', async () => {
    await page.goto(`${app.url}#/users`);
    await page.getByText(alice.user_id).first().waitFor();
    await page.getByText(root.user_id).first().waitFor();
  });

  it('lists the rooms', async () => {
    await page.goto(`${app.url}#/rooms`);
    await page.getByText('Operators lounge').first().waitFor();
  });

  it('called no admin endpoint that failed, and threw no script error', () => {
    assert.deepEqual(failedAdminCalls, []);
    assert.deepEqual(pageErrors, []);
  });
});
