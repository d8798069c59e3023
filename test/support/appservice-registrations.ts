/**
 * Application service registrations for the e2e tests: YAML files written
 * into a temporary folder, as a bridge generates them, and the config that
 * names them.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';

export interface TestRegistration {
  id: string;
  as_token: string;
  hs_token: string;
  sender_localpart: string;
  /** What the file holds: the fields above plus these. */
  [field: string]: unknown;
}

/** A registration of `id` with tokens of its own and an exclusive `@{id}_…` user namespace. */
export function testRegistration(
  id: string,
  extra: Record<string, unknown> = {},
): TestRegistration {
  return {
    id,
    url: null,
    as_token: `${id}-as-token`,
    hs_token: `${id}-hs-token`,
    sender_localpart: `${id}bot`,
    namespaces: {
      users: [{ regex: `@${id}_.*:localhost`, exclusive: true }],
      aliases: [{ regex: `#${id}_.*:localhost`, exclusive: true }],
      rooms: [],
    },
    ...extra,
  };
}

/** Writes each document into a fresh folder; answers the files' paths. */
export function writeRegistrations(documents: unknown[]): string[] {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-appservices-'));
  return documents.map((document, index) => {
    const file = path.join(dir, `registration-${index}.yaml`);
    writeFileSync(file, typeof document === 'string' ? document : stringify(document));
    return file;
  });
}
