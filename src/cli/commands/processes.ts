import { NvmlBackend } from '../../core/nvml/nvmlBackend';
import { NvmlLoadError } from '../../core/nvml/nvmlError';
import type { GpuProcessesListing, GpuProcessRow } from '../../core/runs/attachTargets';
import { describeGpuProcesses } from '../../core/runs/attachTargets';
import type { GpuProcessUse } from '../../core/sampler/types';
import { formatBytes, formatWatts } from '../../core/units/format';
import type { FlagSpec } from '../args';
import { parseArgs, UsageError } from '../args';
import type { Io } from '../stdio';

const PROCESSES_FLAGS: Record<string, FlagSpec> = { json: { type: 'boolean' } };

/**
 * `joules processes`: every process on every GPU with its user, command, GPU memory and SM share
 * (where NVML gives it), and each GPU's power and utilization now: what `joules attach` can attach to.
 */
export function cmdProcesses(argv: string[], io: Io): number {
  const { flags, positionals } = parseArgs(argv, PROCESSES_FLAGS);
  if (positionals.length) throw new UsageError(`processes takes no arguments, got "${positionals[0]}"`);
  const backend = NvmlBackend.open();
  try {
    if (!backend.devices.length) throw new NvmlLoadError('NVML loaded but no GPU could be opened', []);
    const gpus: GpuProcessesListing['gpus'] = backend.devices.map((d) => {
      const tick = d.readTick(true);
      const procs: GpuProcessUse[] | undefined = d.processes();
      const counterMj = d.info.energyMethod === 'counter' ? d.readEnergyCounterMj() : undefined;
      return {
        index: d.info.index,
        name: d.info.name,
        uuid: d.info.uuid,
        ...(tick.powerMilliwatts !== undefined ? { powerW: tick.powerMilliwatts / 1000 } : {}),
        ...(tick.utilGpuPct !== undefined ? { utilPct: tick.utilGpuPct } : {}),
        ...(tick.memUsedBytes !== undefined ? { memUsedBytes: tick.memUsedBytes } : {}),
        ...(d.info.memTotalBytes !== undefined ? { memTotalBytes: d.info.memTotalBytes } : {}),
        ...(counterMj !== undefined ? { energyCounterJ: counterMj / 1000 } : {}),
        // Absent: the process list is not supported (e.g. some vGPUs), not "no processes".
        ...(procs ? { processes: describeGpuProcesses(procs) } : {}),
      };
    });
    if (flags.json) {
      const listing: GpuProcessesListing = { gpus };
      io.stdout.write(JSON.stringify(listing) + '\n');
      return 0;
    }
    const lines: string[] = [];
    for (const g of gpus) {
      const mem = g.memUsedBytes !== undefined ? `, ${formatBytes(g.memUsedBytes)}${g.memTotalBytes !== undefined ? ` / ${formatBytes(g.memTotalBytes)}` : ''}` : '';
      lines.push(`GPU ${g.index} ${g.name}: ${formatWatts(g.powerW)}${g.utilPct !== undefined ? `, util ${g.utilPct} %` : ''}${mem}`);
      if (!g.processes) lines.push('  process list not supported on this GPU');
      else if (!g.processes.length) lines.push('  no processes');
      else {
        lines.push(`  ${'PID'.padEnd(8)} ${'USER'.padEnd(10)} ${'GPU MEM'.padStart(10)} ${'SM'.padStart(5)}  COMMAND`);
        for (const p of g.processes) lines.push(`  ${row(p)}`);
      }
    }
    lines.push('', 'Attach to one with: joules attach <pid>');
    io.stdout.write(lines.join('\n') + '\n');
    return 0;
  } finally {
    backend.close();
  }
}

function row(p: GpuProcessRow): string {
  const mem = p.usedGpuMemoryBytes !== undefined ? formatBytes(p.usedGpuMemoryBytes) : '--';
  const sm = p.smUtilPct !== undefined ? `${p.smUtilPct} %` : '--';
  return `${String(p.pid).padEnd(8)} ${(p.user ?? '?').padEnd(10)} ${mem.padStart(10)} ${sm.padStart(5)}  ${(p.command ?? '(not visible from here: another PID namespace?)').slice(0, 160)}`;
}
