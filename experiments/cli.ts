/**
 * nvlab command-line interface (entry point: bin/nvlab.mjs). Placeholder until the
 * runner lands: prints help.
 */
export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write('Usage: nvlab <command> [options]\n\nCommands: run, crash, replay, merge, check-allocator, bench\n');
    return 0;
  }
  process.stderr.write(`nvlab: unknown command "${argv[0]}" (try --help)\n`);
  return 2;
}
