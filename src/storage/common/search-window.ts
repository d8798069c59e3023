/**
 * `order_by: rank` orders by relevance the newest RANKED_MATCHES matches in the
 * rooms searched, not every match: ranking costs a score per match, so a word
 * in tens of thousands of messages would cost hundreds of milliseconds. Newer
 * matches are what chat users look for; Synapse, too, ranks no more than 500
 * results. Both backends apply the same window.
 */
export const RANKED_MATCHES = 1000;
