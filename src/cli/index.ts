import { checkFixtureCommand, usage as checkFixtureUsage } from './commands/check-fixture';
import { resumeCommand, stopCommand, trainCommand, usage as trainUsage } from './commands/train';
import { compareCommand, exportCommand, kmeansCommand, runsCommand, sampleCommand, showCommand, usage as labUsage } from './commands/lab';
import { serveCommand, usage as serveUsage } from './commands/serve';
import { benchCommand, usage as benchUsage } from './commands/bench';
import { UsageError } from './args';

// The headless host: every command of the lab that runs without a display.

const commands: Record<string, { run: (argv: string[]) => number | Promise<number>; usage: string }> = {
  'check-fixture': { run: checkFixtureCommand, usage: checkFixtureUsage },
  train: { run: trainCommand, usage: trainUsage },
  resume: { run: resumeCommand, usage: trainUsage },
  stop: { run: stopCommand, usage: trainUsage },
  runs: { run: runsCommand, usage: labUsage },
  show: { run: showCommand, usage: labUsage },
  sample: { run: sampleCommand, usage: labUsage },
  export: { run: exportCommand, usage: labUsage },
  compare: { run: compareCommand, usage: labUsage },
  kmeans: { run: kmeansCommand, usage: labUsage },
  serve: { run: serveCommand, usage: serveUsage },
  bench: { run: benchCommand, usage: benchUsage },
};

const help = `NanoLab: train small language models (RNN, LSTM, GRU, GPT) from scratch.

Usage: nanolab <command> [options]

${[...new Set(Object.values(commands).map((c) => c.usage))].join('\n\n')}

nanolab help    this text`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    console.log(help);
    return 0;
  }
  const command = commands[name];
  if (!command) {
    console.error(`nanolab: unknown command "${name}"; commands: ${Object.keys(commands).join(', ')} (nanolab help)`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.usage);
    return 0;
  }
  return command.run(rest);
}

// Output piped into `head` closes early: that is not an error worth a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  // Errors the user can act on are one sentence; anything else is a bug and keeps its stack.
  if (error instanceof UsageError) console.error(`nanolab ${error.message}`);
  else if (error instanceof Error && !/^\s+at /m.test(error.message) && error.constructor === Error) console.error(`nanolab: ${error.message}`);
  else throw error;
  process.exitCode = 1;
}
