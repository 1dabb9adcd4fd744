// The sampling grid's form and figures: lists of temperatures, top-k and top-p values checked
// field by field, the cells' labels, and the diversity-vs-surprise chart.
import type { GridCell } from '../../../shared/contract';

export type GridField = 'temperatures' | 'topKs' | 'topPs' | 'samples';
export type GridForm = Record<GridField, string>;

/** The lesson's experiment: cool, medium and hot, each with no cut and with k = 10. */
export const DEFAULT_GRID_FORM: GridForm = { temperatures: '0.5, 0.8, 1.2', topKs: '0, 10', topPs: '1', samples: '3' };

export const GRID_HELP: Record<GridField, string> = {
  temperatures: 'Temperatures to try, separated by commas (each between 0 and 10; 0 = always the most likely token).',
  topKs: 'Top-k values to try, separated by commas (whole numbers; 0 = no cut).',
  topPs: 'Top-p values to try, separated by commas (above 0 and at most 1; 1 = no cut).',
  samples: 'How many samples per cell, with seeds seed, seed+1, …: the same seeds in every cell, so cells differ only by their settings.',
};

/** At most this many values per list (the API's limits). */
const MAX_VALUES: Record<Exclude<GridField, 'samples'>, number> = { temperatures: 8, topKs: 8, topPs: 4 };

type ParsedList = number[] | string;

function list(text: string, name: string, max: number, ok: (n: number) => boolean, range: string): ParsedList {
  const parts = text
    .split(/[,;\s]+/)
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0) return `${name}: give at least one value (${range})`;
  if (parts.length > max) return `${name}: at most ${max} values (got ${parts.length})`;
  const values: number[] = [];
  for (const p of parts) {
    const n = Number(p);
    if (!Number.isFinite(n) || !ok(n)) return `${name}: “${p}” is not ${range}`;
    if (!values.includes(n)) values.push(n);
  }
  return values;
}

export interface GridValues {
  temperatures: number[];
  topKs: number[];
  topPs: number[];
  samples: number;
}

export type CheckedGrid = { ok: true; values: GridValues } | { ok: false; errors: Partial<Record<GridField, string>> };

/** The grid's fields as lists of values, or a sentence per field that is wrong. */
export function checkGridForm(form: GridForm): CheckedGrid {
  const samplesText = form.samples.trim();
  const samples = /^\d+$/.test(samplesText) && Number(samplesText) >= 1 && Number(samplesText) <= 10 ? Number(samplesText) : null;
  const parsed = {
    temperatures: list(form.temperatures, 'temperatures', MAX_VALUES.temperatures, (n) => n >= 0 && n <= 10, 'a number between 0 and 10'),
    topKs: list(form.topKs, 'top-k values', MAX_VALUES.topKs, (n) => Number.isInteger(n) && n >= 0 && n <= 1_000_000, 'a whole number ≥ 0'),
    topPs: list(form.topPs, 'top-p values', MAX_VALUES.topPs, (n) => n > 0 && n <= 1, 'above 0 and at most 1'),
  };
  const errors: Partial<Record<GridField, string>> = {};
  for (const [key, value] of Object.entries(parsed)) if (typeof value === 'string') errors[key as GridField] = value;
  if (samples === null) errors.samples = `samples per cell must be a whole number between 1 and 10 (got “${form.samples}”)`;
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return { ok: true, values: { ...(parsed as Omit<GridValues, 'samples'>), samples: samples! } };
}

/** How many cells, and tokens to generate, a grid asks for. */
export function gridSize(values: GridValues, length: number): { cells: number; tokens: number } {
  const cells = values.temperatures.length * values.topKs.length * values.topPs.length;
  return { cells, tokens: cells * values.samples * length };
}

/** A cell's short name, as the chart labels it: “T=0.8 k=40”, with “p=0.9” when top-p cuts. */
export function cellLabel(cell: Pick<GridCell, 'temperature' | 'topK' | 'topP'>): string {
  return `T=${cell.temperature} k=${cell.topK === 0 ? 'off' : cell.topK}${cell.topP < 1 ? ` p=${cell.topP}` : ''}`;
}

/** Diversity-vs-surprise scatter: one point per cell, x = distinct 2-gram ratio, y = mean surprise (nats). */
export function gridScatterOption(cells: readonly GridCell[]): Record<string, unknown> {
  const points = cells.map((c) => ({ value: [c.distinct2Ratio, c.meanSurprise], name: cellLabel(c), temperature: c.temperature }));
  const temps = cells.map((c) => c.temperature);
  return {
    animation: false,
    title: { text: 'Diversity vs surprise, one point per grid cell', left: 'center', textStyle: { fontSize: 13, fontWeight: 600 } },
    grid: { left: 64, right: 36, top: 44, bottom: 52 },
    tooltip: {
      trigger: 'item',
      formatter: (p: { name: string; value: [number, number] }) =>
        `${p.name}<br/>distinct 2-grams ${(p.value[0] * 100).toFixed(1)}%<br/>mean surprise ${p.value[1].toFixed(3)} nats (${(p.value[1] / Math.LN2).toFixed(2)} bits)`,
    },
    xAxis: {
      type: 'value',
      name: 'diversity: distinct 2-grams / all 2-grams',
      nameLocation: 'middle',
      nameGap: 30,
      // a ratio: never past 100%, and a little room below the least varied cell
      min: (extent: { min: number }) => Math.max(0, Math.floor((extent.min - 0.05) * 5) / 5),
      max: 1,
      axisLabel: { formatter: (v: number) => `${Math.round(v * 100)}%` },
    },
    yAxis: { type: 'value', name: 'mean surprise (nats / token)', nameLocation: 'middle', nameGap: 44, scale: true },
    series: [
      {
        type: 'scatter',
        symbolSize: 11,
        data: points.map((p) => ({
          value: p.value,
          name: p.name,
          itemStyle: { color: temperatureColor(p.temperature, Math.min(...temps), Math.max(...temps)) },
          // near the right edge the label goes left of its point, inside the chart
          label: { position: p.value[0] > 0.8 ? 'left' : 'right' },
        })),
        label: { show: true, position: 'right', formatter: (p: { name: string }) => p.name, fontSize: 11, color: '#333' },
        labelLayout: { moveOverlap: 'shiftY' },
      },
    ],
  };
}

/** Blue for the coolest temperature of the grid, red for the hottest. */
export function temperatureColor(t: number, min: number, max: number): string {
  const f = max > min ? (t - min) / (max - min) : 0.5;
  const r = Math.round(40 + f * (214 - 40));
  const g = Math.round(110 + f * (60 - 110));
  const b = Math.round(200 + f * (50 - 200));
  return `rgb(${r}, ${g}, ${b})`;
}

/** A share as a percentage with one decimal: 0.4213 -> 42.1%. */
export function percent(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}
