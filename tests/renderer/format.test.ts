import { describe, it, expect } from 'vitest';
import { formatBytes, formatCount, formatDuration, formatEta, formatInteger, formatRate, formatSetting, formatValue } from '../../src/renderer/src/lib/format';

describe('format', () => {
  it('formats metric values to 4 significant digits', () => {
    expect(formatValue(1.23456)).toBe('1.235');
    expect(formatValue(0)).toBe('0');
    expect(formatValue(null)).toBe('—');
    expect(formatValue(0.0001234)).toBe('1.234e-4');
    expect(formatValue(12_345_678)).toBe('1.235e7');
    expect(formatValue(0.0001, 3)).toBe('1e-4');
    expect(formatValue(Number.NaN)).toBe('NaN');
  });

  it('formats counts compactly', () => {
    expect(formatCount(950)).toBe('950');
    expect(formatCount(12_345)).toBe('12.3k');
    expect(formatCount(809_536)).toBe('810k');
    expect(formatCount(1_234_567)).toBe('1.23M');
    expect(formatCount(3.4e9)).toBe('3.4B');
    expect(formatCount(undefined)).toBe('—');
  });

  it('formats integers with separators', () => {
    expect(formatInteger(1234567)).toBe('1,234,567');
  });

  it('formats bytes in powers of 1024', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 kB');
    expect(formatBytes(64 * 1024 * 1024)).toBe('64.0 MB');
  });

  it('formats durations', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(12_340)).toBe('12.3 s');
    expect(formatDuration(245_000)).toBe('4m 05s');
    expect(formatDuration(3_720_000)).toBe('1h 02m');
    expect(formatDuration(2 * 86_400_000 + 3 * 3_600_000)).toBe('2d 3h');
    expect(formatDuration(null)).toBe('—');
  });

  it('formats an ETA, never negative', () => {
    expect(formatEta(65_000)).toBe('1m 05s left');
    expect(formatEta(-5)).toBe('0 ms left');
    expect(formatEta(null)).toBe('—');
  });

  it('formats rates and settings', () => {
    expect(formatRate(12_300)).toBe('12.3k tok/s');
    expect(formatSetting({ a: 1 })).toBe('{"a":1}');
    expect(formatSetting(true)).toBe('true');
    expect(formatSetting(undefined)).toBe('—');
    expect(formatSetting(0.001)).toBe('0.001');
  });
});
