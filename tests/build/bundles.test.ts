import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { resolveTrainConfig } from '../../src/engine/train';
import type { RunEvent, RunSpec } from '../../src/main/jobs/cpu-run';
import { ROOT } from './ensure-built';

// What electron-vite builds: main, preload, worker and renderer bundles. Electron itself cannot
// start here; the worker bundle is plain Node and trains for real. (tests/global-setup.ts builds.)

describe('the app bundles', () => {
  it('the sandboxed preload requires nothing but electron (zod is bundled in)', () => {
    const preload = readFileSync(join(ROOT, 'out/preload/index.cjs'), 'utf8');
    expect([...new Set(preload.match(/require\("[^"]+"\)/g))]).toEqual(['require("electron")']);
  });

  it('the renderer page carries its CSP and loads only its own scripts', () => {
    const html = readFileSync(join(ROOT, 'out/renderer/index.html'), 'utf8');
    expect(html).toContain("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'");
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('the renderer carries the GPU worker as its own module: gpu.js\'s browser build and the engine, nothing of Node', () => {
    const assets = readdirSync(join(ROOT, 'out/renderer/assets'));
    const worker = assets.filter((f) => /^train-worker-.*\.js$/.test(f));
    expect(worker).toHaveLength(1);
    const code = readFileSync(join(ROOT, 'out/renderer/assets', worker[0]), 'utf8');
    expect(code).toContain('webgl2');
    expect(code).toContain('GpuContextLostError');
    expect(code).not.toMatch(/require\("(node:)?(fs|path|worker_threads|gl)"\)|from "node:/);
    // the page loads it by URL (new Worker(new URL(…))), so the executor's chunk names it
    expect(assets.some((f) => f.endsWith('.js') && readFileSync(join(ROOT, 'out/renderer/assets', f), 'utf8').includes(worker[0]))).toBe(true);
  });

  it('the built training worker runs a run to its end under Node', async () => {
    const home = mkdtempSync(join(tmpdir(), 'nanolab-bundle-'));
    const dataPath = join(home, 'text.txt');
    writeFileSync(dataPath, 'It was the best of times, it was the worst of times. '.repeat(60));
    const spec: RunSpec = {
      home, runId: 1, config: resolveTrainConfig('gru', 20, { hidden_size: 8, embedding_dim: 4, batch_size: 2, seq_len: 8, steps: 6, eval_interval: 3, eval_iters: 1 }),
      dataPath, checkpointInterval: 3, sampleInterval: 0, samplePrompt: 'I', resume: false, lowercase: false, tokenizer: { kind: 'char' },
      timeBudgetMs: null, wallOffsetMs: 0, bestValLoss: null,
    };
    spec.config.model.vocab_size = new Set(readFileSync(dataPath, 'utf8')).size;
    const worker = new Worker(join(ROOT, 'out/main/worker.js'), { workerData: spec });
    const events: RunEvent[] = [];
    await new Promise<void>((resolve, reject) => {
      worker.on('message', (e: RunEvent) => {
        events.push(e);
        if (e.type === 'end') resolve();
      });
      worker.on('error', reject);
    });
    expect(events.at(-1)).toMatchObject({ type: 'end', status: 'finished', step: 6 });
    expect(events.filter((e) => e.type === 'checkpoint').length).toBeGreaterThanOrEqual(2);
  });
});
