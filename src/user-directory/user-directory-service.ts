/**
 * POST /user_directory/search: users who share a room with the searcher or
 * are joined to a public or world-readable room (or every user, with
 * `user_directory.search_all_users`), matched case-insensitively on user ID
 * and display name. Read from current memberships and profiles, so it follows
 * every change at once.
 */
import type { DirectoryUser, UserDirectoryStore } from '../storage/storage.js';

export const DEFAULT_SEARCH_LIMIT = 10;
/** The largest `limit` served (Synapse caps it too). */
export const MAX_SEARCH_LIMIT = 100;

export interface SearchResults {
  results: { user_id: string; display_name?: string; avatar_url?: string }[];
  limited: boolean;
}

/** The words of a search term, case folded; every one must match (as Synapse). */
export function searchWords(term: string): string[] {
  return term
    .toLowerCase()
    .split(/\s+/)
    .filter((word) => word.length > 0);
}

export class UserDirectoryService {
  constructor(
    private readonly store: UserDirectoryStore,
    private readonly searchAllUsers: boolean,
  ) {}

  async search(
    searcher: string,
    term: string,
    limit = DEFAULT_SEARCH_LIMIT,
  ): Promise<SearchResults> {
    const wanted = Math.min(Math.max(limit, 0), MAX_SEARCH_LIMIT);
    const found = await this.store.search({
      searcher,
      words: searchWords(term),
      // One more than asked: its presence says the list was cut.
      limit: wanted + 1,
      searchAllUsers: this.searchAllUsers,
    });
    return { results: found.slice(0, wanted).map(toResult), limited: found.length > wanted };
  }
}

function toResult(user: DirectoryUser): SearchResults['results'][number] {
  return {
    user_id: user.userId,
    ...(user.displayName === undefined ? {} : { display_name: user.displayName }),
    ...(user.avatarUrl === undefined ? {} : { avatar_url: user.avatarUrl }),
  };
}
