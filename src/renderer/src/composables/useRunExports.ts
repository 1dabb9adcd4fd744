import { api, exportDownloadUrl, hostKind } from '../api/transport';
import { downloadText, downloadUrl } from '../lib/download';
import { useToasts } from '../stores/toasts';

/** A run's downloads: its metrics as CSV, its checkpoint (a Save dialog on desktop, a .tar in a browser). */
export function useRunExports() {
  const toasts = useToasts();

  async function metricsCsv(id: number): Promise<void> {
    try {
      const { filename, csv } = await api.invoke('runs.metricsCsv', { id });
      downloadText(filename, csv);
    } catch (e) {
      toasts.error(e);
    }
  }

  async function checkpoint(id: number, kind: 'best' | 'latest' = 'best'): Promise<void> {
    if (hostKind === 'browser') {
      downloadUrl(`nanolab-run-${id}-${kind}.tar`, exportDownloadUrl(id, kind));
      return;
    }
    try {
      const { path, files } = await api.invoke('checkpoint.export', { runId: id, checkpoint: kind });
      if (path) toasts.info(`Exported the ${kind} checkpoint (${files.length} files) to ${path}`);
    } catch (e) {
      toasts.error(e);
    }
  }

  return { metricsCsv, checkpoint };
}
