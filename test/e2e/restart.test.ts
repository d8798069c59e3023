/**
 * Durability: whatever the server acknowledged (200) before it was killed with
 * SIGKILL must still be there after a restart on the same data folder. Accounts
 * log in with their passwords, access tokens still work, and a token that was
 * logged out stays dead.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLIENT_V3, type Api } from '../support/client.js';
import { restartableServer } from '../support/process.js';

interface Account {
  username: string;
  password: string;
  userId: string;
}

interface Session {
  userId: string;
  deviceId: string;
  accessToken: string;
}

interface Session200 {
  user_id: string;
  access_token: string;
  device_id: string;
}

const WORKERS = 8;

describe('restart after SIGKILL', { timeout: 120_000 }, () => {
  const { start, api } = restartableServer();

  it('keeps every acknowledged account and token, and no logged-out token', async () => {
    const accounts: Account[] = [];
    const sessions: Session[] = [];
    const deadTokens: string[] = [];

    const first = await start();

    // Phase 1: 20 registrations, five at a time, then a login for each, all at once.
    const register = async (api: Api, username: string, password: string) => {
      const res = await api.post<Session200>(`${CLIENT_V3}/register`, {
        username,
        password,
        auth: { type: 'm.login.dummy' },
      });
      if (res.status !== 200) return undefined;
      accounts.push({ username, password, userId: res.body.user_id });
      sessions.push(session(res.body));
      return res.body;
    };
    const login = async (api: Api, username: string, password: string) => {
      const res = await api.login(username, password);
      if (res.status !== 200) return undefined;
      sessions.push(session(res.body));
      return res.body;
    };

    for (let batch = 0; batch < 4; batch++) {
      const results = await Promise.all(
        Array.from({ length: 5 }, (_, i) => {
          const n = batch * 5 + i;
          return register(api, `user${n}`, `password-${n}-${batch}`);
        }),
      );
      assert.ok(
        results.every((r) => r !== undefined),
        'every phase-1 registration succeeds',
      );
    }
    const logins = await Promise.all(accounts.map((a) => login(api, a.username, a.password)));
    assert.ok(
      logins.every((r) => r !== undefined),
      'every phase-1 login succeeds',
    );
    assert.equal(accounts.length, 20);
    assert.equal(sessions.length, 40);

    // A logout, acknowledged before the kill: that token must stay dead.
    const victimAccount = accounts[0]!;
    const victim = await login(api, victimAccount.username, victimAccount.password);
    assert.ok(victim, 'the login before the logout succeeds');
    sessions.pop();
    const logout = await api.post(`${CLIENT_V3}/logout`, {}, { token: victim.access_token });
    assert.equal(logout.status, 200);
    deadTokens.push(victim.access_token);
    const dead = await api.get(`${CLIENT_V3}/account/whoami`, { token: victim.access_token });
    assert.equal(dead.status, 401);
    assert.equal(dead.body.errcode, 'M_UNKNOWN_TOKEN');

    // Phase 2: workers keep registering and logging in, each with a request always in
    // flight, and the server is killed while they do.
    let acknowledgedUnderLoad = 0;
    let counter = 0;
    let killed = false;
    let inFlight = 0;
    let killNow: () => void = () => {};
    const enoughAcknowledged = new Promise<void>((resolve) => (killNow = resolve));
    const acknowledge = () => {
      acknowledgedUnderLoad++;
      if (acknowledgedUnderLoad >= 24) killNow();
    };
    const worker = async (w: number) => {
      while (!killed) {
        const n = counter++;
        const username = `load${n}`;
        const password = `load-password-${n}-${w}`;
        try {
          inFlight++;
          const registered = await register(api, username, password).finally(() => inFlight--);
          if (!registered) continue;
          acknowledge();
          inFlight++;
          const loggedIn = await login(api, username, password).finally(() => inFlight--);
          if (loggedIn) acknowledge();
        } catch {
          // The connection died with the server: not acknowledged, nothing to check.
          return;
        }
      }
    };
    const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));
    // Enough acknowledgements (or, on a very slow machine, 30 s) before the kill.
    let loadTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      enoughAcknowledged,
      new Promise((resolve) => (loadTimer = setTimeout(resolve, 30_000))),
    ]);
    clearTimeout(loadTimer);
    const inFlightAtKill = inFlight;
    killed = true;
    await first.kill();
    const exit = await first.exited;
    assert.equal(exit.signal, 'SIGKILL');
    await Promise.all(workers);

    assert.ok(acknowledgedUnderLoad >= 24, `only ${acknowledgedUnderLoad} acknowledged under load`);
    assert.ok(inFlightAtKill > 0, 'requests were in flight when the server was killed');

    // Restart on the same data folder (a new port) and check everything acknowledged.
    const second = await start();

    const loginResults = await Promise.all(
      accounts.map(async (account) => ({
        account,
        res: await api.login(account.username, account.password),
      })),
    );
    for (const { account, res } of loginResults) {
      assert.equal(res.status, 200, `${account.username} logs in after the restart`);
      assert.equal(res.body.user_id, account.userId);
    }

    const whoamis = await Promise.all(
      sessions.map(async (s) => ({
        s,
        res: await api.get(`${CLIENT_V3}/account/whoami`, { token: s.accessToken }),
      })),
    );
    for (const { s, res } of whoamis) {
      assert.equal(res.status, 200, `token of ${s.userId} (${s.deviceId}) works after restart`);
      assert.equal(res.body.user_id, s.userId);
      assert.equal(res.body.device_id, s.deviceId);
    }

    for (const token of deadTokens) {
      const res = await api.get(`${CLIENT_V3}/account/whoami`, { token });
      assert.equal(res.status, 401);
      assert.equal(res.body.errcode, 'M_UNKNOWN_TOKEN');
    }

    // The restarted server takes new writes too.
    const fresh = await api.register('afterrestart', 'after-restart-password');
    assert.equal(fresh.user_id, '@afterrestart:localhost');

    assert.equal((await second.stop()).code, 0);
  });
});

function session(body: Session200): Session {
  return { userId: body.user_id, deviceId: body.device_id, accessToken: body.access_token };
}
