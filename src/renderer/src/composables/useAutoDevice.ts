import { computed, onMounted, ref, watch } from 'vue';
import type { RunDraft } from '../../../shared/contract';
import { api } from '../api/transport';
import { calibrateGpu, gpuState, probeGpu } from '../gpu/executor';
import { fasterDevice, isSoftwareRenderer, type DeviceChoice } from '../lib/new-run-form';

export interface Calibration {
  cpu: number;
  gpu: number | null;
  chose: 'cpu' | 'gpu';
  note: string | null;
}

/**
 * The device a New run trains on. Probes this page's GPU on mount; a real GPU makes Auto the
 * default. `resolve` turns the draft into the one to start: for Auto it times a few steps on
 * the CPU (the host's worker, 'runs.calibrate') and on this page's GPU, and the faster wins.
 */
export function useAutoDevice() {
  const device = ref<DeviceChoice>('cpu');
  const calibration = ref<Calibration | null>(null);
  const calibrating = ref(false);
  const gpuReady = computed(() => gpuState.probe.status === 'ready');
  const softwareGpu = computed(() => gpuState.probe.status === 'ready' && isSoftwareRenderer(gpuState.probe.adapter));
  const gpuLabel = computed(() => {
    const p = gpuState.probe;
    if (p.status === 'ready') return `${p.adapter}${softwareGpu.value ? ' — a software renderer, expect it slower than the CPU' : ''}`;
    if (p.status === 'unavailable') return `no GPU: ${p.reason}`;
    return 'looking for a GPU…';
  });
  watch(gpuReady, (ready) => {
    // a real GPU makes Auto the sensible default; a software one does not
    if (ready && !softwareGpu.value && device.value === 'cpu') device.value = 'auto';
  });
  onMounted(() => void probeGpu());

  async function calibrate(d: RunDraft): Promise<NonNullable<RunDraft['calibration']> & { chose: 'cpu' | 'gpu' }> {
    calibrating.value = true;
    calibration.value = null;
    try {
      const cpu = await api.invoke('runs.calibrate', { draft: d, steps: 3 });
      let gpu: number | null = null;
      let adapter: string | null = null;
      let note: string | null = null;
      if (gpuReady.value) {
        try {
          const r = await calibrateGpu(cpu.config, cpu.text, d.lowercase, cpu.tokenizer, 3);
          gpu = r.tokensPerSec;
          adapter = r.adapter;
        } catch (e) {
          note = `the GPU could not train this model: ${(e as Error).message}`;
        }
      } else note = gpuLabel.value;
      const chose = fasterDevice(cpu.tokensPerSec, gpu);
      calibration.value = { cpu: cpu.tokensPerSec, gpu, chose, note };
      return { cpuTokensPerSec: cpu.tokensPerSec, gpuTokensPerSec: gpu, adapter, chose };
    } finally {
      calibrating.value = false;
    }
  }

  /** The draft with its device decided (Auto calibrates first and keeps the numbers). */
  async function resolve(d: RunDraft): Promise<RunDraft> {
    if (device.value !== 'auto') return { ...d, device: device.value };
    const { chose, ...c } = await calibrate(d);
    return { ...d, device: chose, calibration: c };
  }

  return { device, calibration, calibrating, gpuReady, gpuLabel, resolve };
}
