// Errors meant for a person: bad input, a missing file, a setting out of range. The CLI prints
// one as a sentence, the app shows it next to what caused it, and neither logs a stack trace;
// any other error is a bug. Declared here, with no imports, so the engine throws it too.

/** A problem the user can fix, said in one sentence: what was wrong, with the value, and what to do. */
export class UserError extends Error {}

/**
 * Whether an error is the user's to fix rather than a bug: a UserError, or (until every module
 * throws UserError for bad input) a plain `Error` sentence, which is how the modules not yet
 * converted say it. Subclasses that are not UserErrors (TypeError, RangeError, ...) are bugs.
 */
export function isUserError(error: unknown): boolean {
  return error instanceof UserError || (error instanceof Error && error.constructor === Error);
}
