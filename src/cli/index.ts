import { main } from './main';

// exitCode (not process.exit) so buffered stdout, e.g. a --json summary in a pipe, is fully written.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`joules: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
