import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { metricsCsv } from '../../src/main/store/metrics-csv';
import { RunStore } from '../../src/main/store/run-store';

describe("a run's metrics as CSV", () => {
  it('has a row per step and a column per metric, blank where a step did not log it, and a safe file name', () => {
    const store = new RunStore(join(mkdtempSync(join(tmpdir(), 'nanolab-csv-')), 'lab.sqlite'));
    const id = store.createRun({ name: '  Tiny GPT / run #2 ', family: 'gpt', paramCount: 1, config: {} });
    store.appendMetrics(id, [
      { step: 2, tokens: 128, wallMs: 20.04, activeMs: 15.55, name: 'train_loss', value: 3.5 },
      { step: 1, tokens: 64, wallMs: 10, activeMs: 10, name: 'train_loss', value: 4.25 },
      { step: 2, tokens: 128, wallMs: 20.04, activeMs: 15.55, name: 'val_loss', value: 3.75 },
      { step: 1, tokens: 64, wallMs: 10, activeMs: 10, name: 'lr', value: 0.001 },
    ]);
    expect(metricsCsv(store, id)).toEqual({
      filename: `nanolab-run-${id}-Tiny-GPT-run-2-metrics.csv`,
      csv: 'step,tokens,wall_ms,active_ms,lr,train_loss,val_loss\n1,64,10.0,10.0,0.001,4.25,\n2,128,20.0,15.6,,3.5,3.75\n',
    });
    const unnamed = store.createRun({ name: '§§', family: 'lstm', paramCount: 1, config: {} });
    expect(metricsCsv(store, unnamed)).toEqual({ filename: `nanolab-run-${unnamed}-run-metrics.csv`, csv: 'step,tokens,wall_ms,active_ms\n' });
    expect(() => metricsCsv(store, 99)).toThrow('no run with id 99');
    store.close();
  });
});
