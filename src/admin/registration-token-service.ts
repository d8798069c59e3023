/**
 * Synapse's registration token Admin API over the stored tokens
 * (auth/registration-tokens.ts holds the rules, auth/registration-token-service.ts
 * how registration uses them). Config tokens are not listed: they are not stored.
 */
import {
  generateToken,
  isUsable,
  parseNewToken,
  parseTokenChanges,
  tokenJson,
} from '../auth/registration-tokens.js';
import type { RegistrationToken, RegistrationTokenStore } from '../domain/registration-tokens.js';
import { errors } from '../protocol/errors.js';
import type { JsonObject } from '../protocol/params.js';

/** Generated tokens collide rarely; after this many tries the server gives up (as Synapse). */
const GENERATION_ATTEMPTS = 3;

export class AdminRegistrationTokenService {
  constructor(
    private readonly store: RegistrationTokenStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** Every stored token, or only the (in)valid ones. */
  async list(valid: boolean | undefined): Promise<Record<string, unknown>> {
    const now = this.now();
    const tokens = (await this.store.list()).filter(
      (token) => valid === undefined || isUsable(token, now) === valid,
    );
    return { registration_tokens: tokens.map(tokenJson) };
  }

  async get(token: string): Promise<Record<string, unknown>> {
    return tokenJson(await this.existing(token));
  }

  async create(body: JsonObject): Promise<Record<string, unknown>> {
    const request = parseNewToken(body, this.now());
    const record = (token: string): RegistrationToken => ({
      token,
      usesAllowed: request.usesAllowed,
      pending: 0,
      completed: 0,
      expiryTime: request.expiryTime,
    });
    if (request.token !== undefined) {
      if (!(await this.store.create(record(request.token)))) {
        throw errors.invalidParam(`Token already exists: ${request.token}`);
      }
      return tokenJson(record(request.token));
    }
    for (let attempt = 0; attempt < GENERATION_ATTEMPTS; attempt++) {
      const created = record(generateToken(request.length));
      if (await this.store.create(created)) return tokenJson(created);
    }
    throw errors.unknown('Unable to generate a unique token', 500);
  }

  async update(token: string, body: JsonObject): Promise<Record<string, unknown>> {
    const changes = parseTokenChanges(body, this.now());
    const updated = await this.store.update(token, changes);
    if (!updated) throw notFound();
    return tokenJson(updated);
  }

  async delete(token: string): Promise<Record<string, unknown>> {
    if (!(await this.store.delete(token))) throw notFound();
    return {};
  }

  private async existing(token: string): Promise<RegistrationToken> {
    const found = await this.store.get(token);
    if (!found) throw notFound();
    return found;
  }
}

const notFound = () => errors.notFound('No such registration token');
