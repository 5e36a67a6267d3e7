/**
 * Words for a finished run: the one-line summary (notification, terminal) and the Markdown report
 * shown when no panel is available. Pure, no `vscode` import.
 */
import { describeRunEnergyMethod } from '../core/runs/summary';
import type { RunSummary } from '../core/runs/types';
import { formatBytes, formatDuration, formatJoules, formatWattHours, formatWatts } from '../core/units/format';

/** `train.py succeeded (exit 0) · 1:02 · 38.1 kJ (10.6 Wh) · 412 W avg` */
export function summaryLine(s: RunSummary): string {
  const exit = s.exitCode !== null ? ` (exit ${s.exitCode}${s.signal ? `, ${s.signal}` : ''})` : s.signal ? ` (${s.signal})` : '';
  return (
    `${s.name}${s.replay ? ' [replay]' : ''} ${s.status}${exit} · ${formatDuration(s.durationS)} · ` +
    `${formatJoules(s.energyJ)} (${formatWattHours(s.energyJ)}) · ${formatWatts(s.avgPowerW)} avg`
  );
}

/** The line printed at the end of the run's terminal, coloured by outcome (ANSI SGR). */
export function terminalSummary(s: RunSummary): string {
  const colour = s.status === 'succeeded' ? '32' : s.status === 'stopped' ? '33' : '31';
  return `\r\n\x1b[1;${colour}m■ Joules:\x1b[0m ${summaryLine(s)}\r\n`;
}

/** "Nov 26, 11:38" in the user's locale. */
export function shortTime(iso: string, locale?: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(locale, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/** A run as a Markdown report (fallback view of a run, and the body of a compare). */
export function summaryMarkdown(s: RunSummary): string {
  const lines = [
    `# ${s.name}${s.replay ? ' (replay of a recorded trace)' : ''}`,
    '',
    `| | |`,
    `|---|---|`,
    `| Status | ${s.status}${s.exitCode !== null ? ` (exit ${s.exitCode})` : ''} |`,
    `| Started | ${s.startedAt} |`,
    `| Duration | ${formatDuration(s.durationS)} |`,
    `| Energy | ${formatJoules(s.energyJ)} (${formatWattHours(s.energyJ)}), ${describeRunEnergyMethod(s.energyMethod)} |`,
    `| Power | ${formatWatts(s.avgPowerW)} average, ${formatWatts(s.peakPowerW)} peak |`,
    ...(s.avgUtilPct !== undefined ? [`| GPU utilization | ${s.avgUtilPct.toFixed(0)} % average |`] : []),
    `| Command | \`${s.command.join(' ').replace(/`/g, "'")}\` |`,
    `| Folder | ${s.cwd} |`,
    `| Run id | ${s.id} |`,
    '',
    '## GPUs',
    '',
    '| GPU | Run | Energy | Avg power | Peak power | Util | Peak memory |',
    '|---|---|--:|--:|--:|--:|--:|',
  ];
  for (const g of s.gpus) {
    const counted = s.attribution === 'all' || g.attributed;
    lines.push(
      `| ${g.index} ${g.name} | ${counted ? 'yes' : 'no'} | ${formatJoules(g.energyJ)} | ${formatWatts(g.avgPowerW)} | ${formatWatts(g.peakPowerW)} | ` +
        `${g.avgUtilPct !== undefined ? `${g.avgUtilPct.toFixed(0)} %` : '—'} | ${g.peakMemUsedBytes !== undefined ? formatBytes(g.peakMemUsedBytes) : '—'} |`,
    );
  }
  if (s.findings?.length) {
    lines.push('', '## Findings', '');
    for (const f of s.findings) lines.push(`- **${f.severity}** ${f.message}${f.file ? ` (${f.file}${f.line ? `:${f.line}` : ''})` : ''}`);
  }
  if (s.errors) {
    lines.push('', '## NVML errors', '');
    for (const [k, v] of Object.entries(s.errors)) lines.push(`- ${k} ×${v}`);
  }
  return lines.join('\n') + '\n';
}
