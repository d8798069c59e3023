/** A small HTTP client for the tests: JSON in, status and JSON out. */
import assert from 'node:assert/strict';

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

export interface RequestOptions {
  token?: string;
  /** Sent as is instead of JSON-encoding `body`. */
  rawBody?: string | Buffer;
  headers?: Record<string, string>;
}

export interface Session {
  user_id: string;
  access_token: string;
  device_id: string;
}

export class Api {
  /**
   * `baseUrl` may be a function: the client of a server not started yet (or
   * restarted on another port) asks it for the address at each request.
   */
  constructor(private readonly base: string | (() => string)) {}

  get baseUrl(): string {
    return typeof this.base === 'string' ? this.base : this.base();
  }

  async request<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    options: RequestOptions = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let payload: string | Buffer | undefined = options.rawBody;
    if (payload === undefined && body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(this.baseUrl + path, {
      method,
      headers,
      body: payload as BodyInit | undefined,
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      // Not JSON (an HTML page): the text is the body.
    }
    return { status: response.status, body: parsed as T, headers: response.headers };
  }

  get<T = Record<string, unknown>>(path: string, options?: RequestOptions) {
    return this.request<T>('GET', path, undefined, options);
  }
  post<T = Record<string, unknown>>(path: string, body?: unknown, options?: RequestOptions) {
    return this.request<T>('POST', path, body, options);
  }
  put<T = Record<string, unknown>>(path: string, body?: unknown, options?: RequestOptions) {
    return this.request<T>('PUT', path, body, options);
  }
  delete<T = Record<string, unknown>>(path: string, body?: unknown, options?: RequestOptions) {
    return this.request<T>('DELETE', path, body, options);
  }

  /** Registers a user through the dummy UIA flow; returns the registration response. */
  async register(
    username: string,
    password = DEFAULT_PASSWORD,
    extra: Record<string, unknown> = {},
  ) {
    const response = await this.post<Session>('/_matrix/client/v3/register', {
      username,
      password,
      auth: { type: 'm.login.dummy' },
      ...extra,
    });
    if (response.status !== 200) {
      throw new Error(`register ${username}: ${response.status} ${JSON.stringify(response.body)}`);
    }
    return response.body;
  }

  /**
   * Runs a request protected by UIA through the password stage: the first try
   * must get the 401 challenge; the retry carries the password and its session.
   */
  async withPasswordAuth<T = Record<string, unknown>>(
    method: string,
    path: string,
    body: Record<string, unknown>,
    credentials: { token: string; user: string; password?: string },
  ): Promise<ApiResponse<T>> {
    const { token, user, password = DEFAULT_PASSWORD } = credentials;
    const challenge = await this.request(method, path, body, { token });
    if (challenge.status !== 401 || typeof challenge.body.session !== 'string') {
      throw new Error(`${method} ${path}: expected a UIA challenge, got ${challenge.status}`);
    }
    // The challenge must offer the password stage (as the only flow for a user with a password).
    assert.deepEqual(challenge.body.flows, [{ stages: ['m.login.password'] }]);
    const auth = {
      type: 'm.login.password',
      session: challenge.body.session,
      identifier: { type: 'm.id.user', user },
      password,
    };
    return this.request<T>(method, path, { ...body, auth }, { token });
  }

  async login(user: string, password = DEFAULT_PASSWORD, extra: Record<string, unknown> = {}) {
    return this.post<Session & Record<string, unknown>>('/_matrix/client/v3/login', {
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user },
      password,
      ...extra,
    });
  }
}

export const CLIENT_V3 = '/_matrix/client/v3';
export const DEFAULT_PASSWORD = 'correct horse battery staple';
