// Checks and displays for a training text before and after it is uploaded.
import { formatBytes } from './format';

/** The refusal for a file over the limit, or null when it fits. Checked before reading it. */
export function corpusTooLarge(name: string, bytes: number, maxBytes: number): string | null {
  if (bytes <= maxBytes) return null;
  return `${name} is ${formatBytes(bytes)}; NanoLab takes texts up to ${formatBytes(maxBytes)}. Use a smaller file, or cut this one down.`;
}

/** The refusal for an empty text, or null. */
export function corpusEmpty(name: string, text: string): string | null {
  return text.length === 0 ? `${name} is empty: choose a file with some text in it.` : null;
}

/**
 * Text with its whitespace made visible: newlines as ↵ (the line still breaks), tabs as →,
 * and other control characters as their code.
 */
export function visibleWhitespace(text: string): string {
  return (
    text
      .replace(/\r\n/g, '\n')
      .replace(/\t/g, '→\t')
      .replace(/\n/g, '↵\n')
      // eslint-disable-next-line no-control-regex -- control characters are exactly what this makes visible
      .replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
  );
}

/** The number of distinct characters (a char tokenizer's vocabulary size). */
export function distinctChars(text: string): number {
  return new Set(text).size;
}
