import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ExportFormat, RunView } from '../core/protocol/panel';
import { runsToCsv, runsToJson } from '../core/protocol/exportFormat';
import type { RunStore } from '../core/runs/store';
import { runsToCodecarbonCsv } from '../core/export/codecarbonCsv';
import type { CarbonSettings } from '../core/units/carbon';
import { toRunView } from './runViews';

/** Load stored runs as RunViews; missing ids are reported, not fatal. */
export function loadRunViews(store: RunStore, ids: readonly string[]): { runs: RunView[]; missing: string[] } {
  const runs: RunView[] = [];
  const missing: string[] = [];
  for (const id of ids) {
    const record = store.load(id);
    if (record) runs.push(toRunView({ ...record, gaps: record.gaps }));
    else missing.push(id);
  }
  return { runs, missing };
}

/**
 * Export runs to a file: `target` given (tests, the panel's own choice) or picked in a save dialog,
 * the format from the file name. Resolves with the file written, or undefined when cancelled.
 */
export async function exportRuns(store: RunStore, ids: readonly string[], format?: ExportFormat, target?: vscode.Uri, carbon: CarbonSettings = {}): Promise<vscode.Uri | undefined> {
  if (!ids.length) throw new Error('no run selected');
  // CodeCarbon's file has one row per run: the summaries are enough, no samples are read.
  if (format === 'codecarbon-csv') return exportCodecarbon(store, ids, target, carbon);
  const { runs, missing } = loadRunViews(store, ids);
  if (missing.length) throw new Error(`not in the history: ${missing.join(', ')}`);
  let uri = target;
  if (!uri) {
    const base = runs.length === 1 ? runs[0]!.summary.id : `joules-${runs.length}-runs`;
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const ext = format ?? 'json';
    uri = await vscode.window.showSaveDialog({
      title: `Export ${runs.length === 1 ? 'run' : `${runs.length} runs`}`,
      ...(folder ? { defaultUri: vscode.Uri.joinPath(folder, `${base}.${ext}`) } : {}),
      filters: format === 'csv' ? { CSV: ['csv'] } : format === 'json' ? { JSON: ['json'] } : { JSON: ['json'], CSV: ['csv'] },
      saveLabel: 'Export',
    });
    if (!uri) return undefined;
  }
  const chosen: ExportFormat = format ?? (path.extname(uri.path).toLowerCase() === '.csv' ? 'csv' : 'json');
  const text = chosen === 'csv' ? runsToCsv(runs) : runsToJson(runs);
  await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(text));
  return uri;
}

async function exportCodecarbon(store: RunStore, ids: readonly string[], target: vscode.Uri | undefined, carbon: CarbonSettings): Promise<vscode.Uri | undefined> {
  const summaries = ids.map((id) => store.readMeta(id));
  const missing = ids.filter((_, i) => !summaries[i]);
  if (missing.length) throw new Error(`not in the history: ${missing.join(', ')}`);
  // Built before the dialog: a carbon setting that cannot be used is reported before a file is chosen.
  const text = runsToCodecarbonCsv(summaries.filter((s) => s !== undefined), carbon);
  let uri = target;
  if (!uri) {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    uri = await vscode.window.showSaveDialog({
      title: `Export ${ids.length === 1 ? 'run' : `${ids.length} runs`} as CodeCarbon emissions.csv`,
      ...(folder ? { defaultUri: vscode.Uri.joinPath(folder, 'emissions.csv') } : {}),
      filters: { CSV: ['csv'] },
      saveLabel: 'Export',
    });
    if (!uri) return undefined;
  }
  await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(text));
  return uri;
}
