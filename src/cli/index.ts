import { checkFixtureCommand, usage as checkFixtureUsage } from './commands/check-fixture';
import { resumeCommand, stopCommand, trainCommand, usage as trainUsage } from './commands/train';
import { compareCommand, exportCommand, kmeansCommand, runsCommand, sampleCommand, showCommand, usage as labUsage } from './commands/lab';
import { evalCommand, translateCommand, usage as seq2seqUsage } from './commands/seq2seq';
import { serveCommand, usage as serveUsage } from './commands/serve';
import { benchCommand, usage as benchUsage } from './commands/bench';
import { UsageError, userMessage } from './args';
import { databasePath, labHome } from '../main/store/paths';

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
  translate: { run: translateCommand, usage: seq2seqUsage },
  eval: { run: evalCommand, usage: seq2seqUsage },
  serve: { run: serveCommand, usage: serveUsage },
  bench: { run: benchCommand, usage: benchUsage },
};

const help = `NanoLab: train small language models (RNN, LSTM, GRU, GPT) from scratch.

Usage: nanolab <command> [options]      (--debug, or NANOLAB_DEBUG=1: errors with their stack traces)

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

const argv = process.argv.slice(2);
// --debug (anywhere) or NANOLAB_DEBUG=1: errors keep their stack traces, for a bug report
const debug = argv.includes('--debug') || process.env.NANOLAB_DEBUG === '1';
// the server and the training workers read it too
if (debug) process.env.NANOLAB_DEBUG = '1';

// A throw from a timer or a stream would otherwise end the process with a stack trace.
process.on('uncaughtException', (error) => {
  if (debug) console.error(error);
  console.error(`nanolab: ${userMessage(error, databasePath(labHome()))}`);
  process.exit(1);
});

try {
  process.exitCode = await main(argv.filter((a) => a !== '--debug'));
} catch (error) {
  if (debug) console.error(error);
  // Errors the user can act on are one sentence; anything else is a bug, and says how to see more.
  console.error(`nanolab${error instanceof UsageError ? ' ' : ': '}${userMessage(error, databasePath(labHome()))}`);
  process.exitCode = 1;
}
