import { readFileSync } from 'node:fs';
import { checkFixture, type FieldCheck, type TorchFixture } from '../../engine/parity';
import { parse, UsageError } from '../args';

export const usage = `nanolab check-fixture FILE... [--json]
  Checks the engine against PyTorch fixture files (format: tests/fixtures/README.md): builds the
  model each file describes, loads its parameters, and compares logits, loss, states, attention,
  every gradient, the AdamW steps and the sampling distributions; for the encoder–decoder
  (seq2seq.json, seq2seq_seed.json) also its masks, pe tables, the attention of every layer
  (encoder self, decoder self, cross), one Adam step and greedy decoding. One line per field with
  its max abs and max rel error; exit code 1 if any field fails.`;

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toExponential(2) : String(x);
}

function line(c: FieldCheck): string {
  const tol = `rtol ${c.rtol}, atol ${c.atol}`;
  return `  ${c.pass ? 'PASS' : 'FAIL'}  ${c.field.padEnd(48)} max abs ${fmt(c.maxAbs).padStart(9)}  max rel ${fmt(c.maxRel).padStart(9)}  (${tol})${c.note ? `  ${c.note}` : ''}`;
}

export function checkFixtureCommand(argv: string[]): number {
  const { values, positionals } = parse('check-fixture', argv, { json: { type: 'boolean' } }, true);
  const report: { file: string; pass: boolean; error?: string; fields: FieldCheck[] }[] = [];
  if (positionals.length === 0) throw new UsageError(`check-fixture: name at least one fixture file\n\n${usage}`);
  let failed = 0;
  for (const file of positionals) {
    let fx: TorchFixture;
    try {
      fx = JSON.parse(readFileSync(file, 'utf8')) as TorchFixture;
    } catch (error) {
      throw new UsageError(`check-fixture: cannot read ${file} as JSON (${(error as Error).message})`);
    }
    let checks: FieldCheck[];
    try {
      checks = checkFixture(fx);
    } catch (error) {
      console.log(`${file}: FAIL (${(error as Error).message})`);
      report.push({ file, pass: false, error: (error as Error).message, fields: [] });
      failed++;
      continue;
    }
    console.log(`${file} (${fx.case}, torch ${fx.torch_version ?? '?'})`);
    for (const c of checks) console.log(line(c));
    const bad = checks.filter((c) => !c.pass).length;
    console.log(bad === 0 ? `${file}: PASS (${checks.length} fields)` : `${file}: FAIL (${bad} of ${checks.length} fields)`);
    if (bad > 0) failed++;
    report.push({ file, pass: bad === 0, fields: checks });
  }
  if (positionals.length > 1) console.log(failed === 0 ? 'PASS' : `FAIL (${failed} of ${positionals.length} files)`);
  else console.log(failed === 0 ? 'PASS' : 'FAIL');
  if (values.json) console.log(JSON.stringify({ pass: failed === 0, files: report }));
  return failed === 0 ? 0 : 1;
}
