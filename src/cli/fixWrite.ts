import { writeFileAtomic } from '../core/runs/store';

/**
 * `joules fix --apply`'s edit of the user's script: through a temporary file and a rename, so a
 * full disk leaves the script as it was (writing in place truncated it first, then failed).
 */
export function writeFixedScript(file: string, text: string): void {
  try {
    writeFileAtomic(file, text);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(`cannot write ${file} (${err.code ?? err.message}); the script is unchanged`);
  }
}
