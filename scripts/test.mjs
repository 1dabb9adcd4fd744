#!/usr/bin/env node
// npm test: runs vitest once (its JSON report goes to test-results/vitest.json, see
// vitest.config.ts) and ends with one plain line, "N passed, N failed", read from that report.
// Exits non-zero when vitest did.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const report = 'test-results/vitest.json';
rmSync(report, { force: true });

const vitest = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
const run = spawnSync(process.execPath, [vitest, 'run', ...process.argv.slice(2)], { stdio: 'inherit' });
const status = run.status ?? 1;

if (!existsSync(report)) {
  console.log(`vitest wrote no report at ${report} (exit ${run.signal ?? status}); see its output above.`);
  console.log('0 passed, 0 failed');
  process.exit(status === 0 ? 1 : status);
}
const { numPassedTests = 0, numFailedTests = 0, testResults = [] } = JSON.parse(readFileSync(report, 'utf8'));
// A file that fails before any test runs (import error, syntax error) has no failed test in it:
// count it as one failure so the summary never reads clean when vitest did not.
const brokenFiles = testResults.filter((file) => file.status === 'failed' && !file.assertionResults?.some((test) => test.status === 'failed')).length;
console.log(`${numPassedTests} passed, ${numFailedTests + brokenFiles} failed`);
process.exit(status);
