/**
 * Rows of the profiles table as every backend reads and writes them: display
 * name and avatar URL in their own columns (member events and the user
 * directory read them), every other field (m.tz, custom keys) as JSON text.
 */
import type { Profile } from '../storage.js';

export interface ProfileRow {
  displayname: string | null;
  avatar_url: string | null;
  fields_json: string | null;
}

export const toProfile = (row: ProfileRow): Profile => ({
  ...(row.displayname === null ? {} : { displayName: row.displayname }),
  ...(row.avatar_url === null ? {} : { avatarUrl: row.avatar_url }),
});

export const toFields = (row: ProfileRow): Record<string, unknown> => ({
  ...(row.displayname === null ? {} : { displayname: row.displayname }),
  ...(row.avatar_url === null ? {} : { avatar_url: row.avatar_url }),
  ...(row.fields_json === null ? {} : (JSON.parse(row.fields_json) as Record<string, unknown>)),
});

/** The row that stores every field of a profile (a non-string name or avatar is not kept). */
export function fieldsToRow(fields: Record<string, unknown>): ProfileRow {
  const { displayname, avatar_url: avatarUrl, ...others } = fields;
  return {
    displayname: typeof displayname === 'string' ? displayname : null,
    avatar_url: typeof avatarUrl === 'string' ? avatarUrl : null,
    fields_json: Object.keys(others).length === 0 ? null : JSON.stringify(others),
  };
}
