import { UserError } from '../shared/errors';

export { UserError };

// Errors the engine throws for its callers to act on: typed data, so a host need not read prose.

/**
 * A setting the engine refuses, with the flat setting's name (`n_embd`, `lr`, the CLI's `--set`
 * key): the New-run form points at that field, the CLI prints the message.
 */
export class SettingError extends UserError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}
