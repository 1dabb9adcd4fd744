import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LabApi } from '../../main/api/lab-api';
import { startServer } from '../../main/api/server';
import { CpuBackend } from '../../engine/backend/cpu';
import { splitCorpus } from '../../engine/data/corpus';
import { countParameters } from '../../engine/models';
import type { ModelFamily } from '../../engine/models/config';
import { resolveTrainConfig, type TrainConfig } from '../../engine/train';
import { calibrate } from '../../engine/run';
import { UsageError } from '../args';

// `nanolab bench --gpu`: GPU vs CPU tokens/s. The GPU side runs where NanoLab's GPU runs do, in a
// browser page's Web Worker on gpu.js (WebGL2): the bench serves the built app on a temporary lab,
// opens it in Chromium through Playwright, and times each model with the page's own calibration
// (the one Auto uses). The CPU side times the same config with the same function in this process.

const RENDERER_DIR = fileURLToPath(new URL('../../../out/renderer', import.meta.url));
export const DEFAULT_CHROMIUM = '/usr/bin/chromium';
/** Headless, and no network; SwiftShader's WebGL2 when the machine has no GPU. */
export const DEFAULT_BROWSER_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--enable-unsafe-swiftshader',
];

export interface GpuBenchModel {
  name: string;
  family: ModelFamily;
  settings: Record<string, string | number | boolean>;
  steps: number;
}

export interface GpuBenchRow {
  name: string;
  params: number;
  tokens_per_step: number;
  cpu_tokens_per_s: number;
  gpu_tokens_per_s: number | null;
  gpu_vs_cpu: number | null;
  error: string | null;
}

export interface GpuBenchResult {
  adapter: string | null;
  unavailable: string | null;
  models: GpuBenchRow[];
}

type GpuHook = {
  probe(): Promise<{ status: string; adapter?: string; reason?: string }>;
  calibrate(
    config: TrainConfig,
    text: string,
    lowercase: boolean,
    tokenizer: { kind: 'char' },
    steps: number,
  ): Promise<{ tokensPerSec: number; adapter: string }>;
};

export async function gpuBench(o: {
  models: GpuBenchModel[];
  text: string;
  bundledCorpus: string;
  chromium: string;
  browserArgs: string[];
  log: (line: string) => void;
}): Promise<GpuBenchResult> {
  if (!existsSync(`${RENDERER_DIR}/index.html`))
    throw new UsageError(`bench --gpu: the app is not built (no ${RENDERER_DIR}/index.html): run npm run build first`);
  if (!existsSync(o.chromium)) throw new UsageError(`bench --gpu: no Chromium at ${o.chromium}: install it (apt-get install chromium) or pass --chromium PATH`);
  const { chromium } = await import('playwright-core').catch(() => {
    throw new UsageError('bench --gpu drives Chromium with playwright-core, which is not installed: npm install (it is a dev dependency)');
  });
  const home = mkdtempSync(join(tmpdir(), 'nanolab-bench-gpu-'));
  const api = new LabApi({
    home,
    host: 'browser',
    bundledCorpus: o.bundledCorpus,
    versions: { app: 'bench', electron: '', chrome: '', node: process.versions.node },
  });
  const server = await startServer({ api, rendererDir: RENDERER_DIR, host: '127.0.0.1', port: 0 });
  const browser = await chromium.launch({ executablePath: o.chromium, args: o.browserArgs });
  try {
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(server.url);
    await page.waitForFunction(() => '__nanolabGpu' in globalThis, undefined, { timeout: 60_000 });
    const probe = await page.evaluate(() => (globalThis as typeof globalThis & { __nanolabGpu: GpuHook }).__nanolabGpu.probe());
    const adapter = probe.status === 'ready' ? (probe.adapter ?? null) : null;
    o.log(adapter ? `GPU: ${adapter}` : `GPU: unavailable (${probe.reason ?? probe.status})`);
    const corpus = splitCorpus(o.text);
    const rows: GpuBenchRow[] = [];
    for (const m of o.models) {
      const config = resolveTrainConfig(m.family, corpus.tokenizer.vocabSize, m.settings, 1337);
      const tokensPerStep = config.batch_size * config.seq_len;
      const params = countParameters(config.model);
      o.log(`${m.name}: ${params.toLocaleString('en-US')} parameters, ${tokensPerStep} tokens per step, ${m.steps} timed steps on each`);
      const cpu = calibrate(config, corpus, m.steps, new CpuBackend());
      let gpu: number | null = null;
      let error: string | null = adapter ? null : (probe.reason ?? 'no WebGL2');
      if (adapter) {
        try {
          gpu = (
            await page.evaluate(
              ([c, t, s]) => (globalThis as typeof globalThis & { __nanolabGpu: GpuHook }).__nanolabGpu.calibrate(c, t, false, { kind: 'char' }, s),
              [config, o.text, m.steps] as const,
            )
          ).tokensPerSec;
        } catch (e) {
          error = (e as Error).message.split('\n')[0];
        }
      }
      const row = {
        name: m.name,
        params,
        tokens_per_step: tokensPerStep,
        cpu_tokens_per_s: cpu,
        gpu_tokens_per_s: gpu,
        gpu_vs_cpu: gpu === null ? null : gpu / cpu,
        error,
      };
      o.log(`  CPU ${cpu.toFixed(0)} tokens/s · GPU ${gpu === null ? `— (${error})` : `${gpu.toFixed(0)} tokens/s · GPU/CPU ${(gpu / cpu).toFixed(2)}×`}`);
      rows.push(row);
    }
    if (pageErrors.length > 0) o.log(`page errors: ${pageErrors.join('; ')}`);
    return { adapter, unavailable: adapter ? null : (probe.reason ?? probe.status), models: rows };
  } finally {
    await browser.close();
    await server.close();
    await api.close();
    rmSync(home, { recursive: true, force: true });
  }
}
