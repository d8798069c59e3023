/**
 * The rules of application service registrations, pure: a parsed YAML document
 * checked field by field (a clear message naming the file and the field), and
 * the namespace questions the rest of Weft asks.
 */
import { OperatorError } from '../util/operator-error.js';
import type {
  AppServiceNamespace,
  AppServiceNamespaces,
  AppServiceRegistration,
} from '../domain/appservice.js';

export class RegistrationError extends OperatorError {}

/** Checks one registration document read from `file`. */
export function parseRegistration(document: unknown, file: string): AppServiceRegistration {
  const fail = (field: string, problem: string): never => {
    throw new RegistrationError(`${file}: ${field} ${problem}`);
  };
  if (!isObject(document)) return fail('the file', 'must hold a YAML mapping');
  const text = (field: string): string => {
    const value = document[field];
    if (typeof value !== 'string' || value === '') fail(field, 'must be a non-empty string');
    return value as string;
  };
  const flag = (field: string, absent: boolean): boolean => {
    const value = document[field];
    if (value === undefined || value === null) return absent;
    if (typeof value !== 'boolean') fail(field, 'must be true or false');
    return value as boolean;
  };
  const url = document.url;
  if (url !== null && url !== undefined && !isHttpUrl(url)) {
    fail('url', 'must be an http(s) URL or null');
  }
  const senderLocalpart = text('sender_localpart');
  if (!/^[a-z0-9._=\-/+]+$/.test(senderLocalpart)) {
    fail('sender_localpart', 'must be a localpart (a-z, 0-9, ._=-/+)');
  }
  return {
    id: text('id'),
    url: typeof url === 'string' ? url.replace(/\/+$/, '') : null,
    asToken: text('as_token'),
    hsToken: text('hs_token'),
    senderLocalpart,
    namespaces: parseNamespaces(document.namespaces, fail),
    rateLimited: flag('rate_limited', true),
    protocols: parseProtocols(document.protocols, fail),
    ephemeral: flag('receive_ephemeral', false)
      ? 'stable'
      : flag('de.sorunome.msc2409.push_ephemeral', false)
        ? 'msc2409'
        : 'none',
    msc3202: flag('org.matrix.msc3202', false),
    msc4190: flag('io.element.msc4190', false),
    file,
  };
}

/** Refuses two registrations sharing an `id` or an `as_token` (the token names the service). */
export function checkDistinct(registrations: readonly AppServiceRegistration[]): void {
  const seen = { id: new Map<string, string>(), token: new Map<string, string>() };
  for (const registration of registrations) {
    const sameId = seen.id.get(registration.id);
    if (sameId !== undefined) {
      throw new RegistrationError(
        `${registration.file}: id ${registration.id} is already used by ${sameId}`,
      );
    }
    const sameToken = seen.token.get(registration.asToken);
    if (sameToken !== undefined) {
      throw new RegistrationError(`${registration.file}: as_token is already used by ${sameToken}`);
    }
    seen.id.set(registration.id, registration.file);
    seen.token.set(registration.asToken, registration.file);
  }
}

type Fail = (field: string, problem: string) => never;

function parseNamespaces(value: unknown, fail: Fail): AppServiceNamespaces {
  if (value === undefined || value === null) return { users: [], aliases: [], rooms: [] };
  if (!isObject(value)) return fail('namespaces', 'must be a mapping');
  const kind = (name: 'users' | 'aliases' | 'rooms'): AppServiceNamespace[] => {
    const entries = value[name];
    if (entries === undefined || entries === null) return [];
    if (!Array.isArray(entries)) return fail(`namespaces.${name}`, 'must be a list');
    return entries.map((entry, index) =>
      parseNamespace(entry, `namespaces.${name}[${index}]`, fail),
    );
  };
  return { users: kind('users'), aliases: kind('aliases'), rooms: kind('rooms') };
}

function parseNamespace(entry: unknown, field: string, fail: Fail): AppServiceNamespace {
  if (!isObject(entry)) return fail(field, 'must be a mapping with regex and exclusive');
  if (typeof entry.regex !== 'string' || entry.regex === '') {
    return fail(`${field}.regex`, 'must be a non-empty string');
  }
  if (entry.exclusive !== undefined && typeof entry.exclusive !== 'boolean') {
    return fail(`${field}.exclusive`, 'must be true or false');
  }
  return {
    source: entry.regex,
    regex: compileNamespaceRegex(entry.regex, `${field}.regex`, fail),
    exclusive: entry.exclusive === true,
  };
}

/**
 * Registrations are written for Synapse, which matches with Python's re.match:
 * anchored at the start, not at the end. Python's named groups `(?P<name>…)`
 * are spelled `(?<name>…)` in JavaScript.
 */
function compileNamespaceRegex(source: string, field: string, fail: Fail): RegExp {
  try {
    return new RegExp(`^(?:${source.replace(/\(\?P</g, '(?<')})`, 'u');
  } catch (error) {
    return fail(field, `is not a regular expression: ${(error as Error).message}`);
  }
}

function parseProtocols(value: unknown, fail: Fail): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string' && item !== '')) {
    return fail('protocols', 'must be a list of strings');
  }
  return value as string[];
}

/** The service's own user ID. */
export function senderUserId(registration: AppServiceRegistration, serverName: string): string {
  return `@${registration.senderLocalpart}:${serverName}`;
}

type NamespaceKind = keyof AppServiceNamespaces;

/** The namespace entry of this kind that matches `value`, if any. */
function matching(
  registration: AppServiceRegistration,
  kind: NamespaceKind,
  value: string,
): AppServiceNamespace | undefined {
  return registration.namespaces[kind].find((namespace) => namespace.regex.test(value));
}

/** Whether the value lies in one of the service's namespaces of that kind. */
export function inNamespace(
  registration: AppServiceRegistration,
  kind: NamespaceKind,
  value: string,
): boolean {
  return matching(registration, kind, value) !== undefined;
}

/** Whether the service may act as this user: its sender, or a user in its user namespaces. */
export function mayActAs(
  registration: AppServiceRegistration,
  userId: string,
  serverName: string,
): boolean {
  return (
    userId === senderUserId(registration, serverName) || inNamespace(registration, 'users', userId)
  );
}

/** The service (other than `except`) that claims the value exclusively, if any. */
export function exclusiveOwner(
  registrations: readonly AppServiceRegistration[],
  kind: NamespaceKind,
  value: string,
  except?: AppServiceRegistration,
): AppServiceRegistration | undefined {
  return registrations.find(
    (registration) =>
      registration !== except &&
      registration.namespaces[kind].some(
        (namespace) => namespace.exclusive && namespace.regex.test(value),
      ),
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isHttpUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const protocol = new URL(value).protocol;
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}
