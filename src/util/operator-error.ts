/**
 * A failure the operator can fix (a bad option, config or database state): the
 * `weft` command prints its message as one line and exits 1, no stack. A base
 * class rather than a list of classes, so the command need not load the heavy
 * modules (storage drivers, the migrator) only to recognise their errors.
 */
export class OperatorError extends Error {}
