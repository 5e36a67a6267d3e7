import { NvmlBackend } from '../../core/nvml/nvmlBackend';
import { formatBytes, formatWatts } from '../../core/units/format';
import type { FlagSpec } from '../args';
import { parseArgs, UsageError } from '../args';
import type { Io } from '../stdio';

const DEVICES_FLAGS: Record<string, FlagSpec> = { json: { type: 'boolean' } };

/** `joules devices`: the GPUs NVML sees and what can be measured on each. */
export function cmdDevices(argv: string[], io: Io): number {
  const { flags, positionals } = parseArgs(argv, DEVICES_FLAGS);
  if (positionals.length) throw new UsageError(`devices takes no arguments, got "${positionals[0]}"`);
  const backend = NvmlBackend.open();
  try {
    const notices = backend.takeNotices();
    const gpus = backend.devices.map((d) => d.info);
    if (flags.json) {
      io.stdout.write(
        JSON.stringify({ driverVersion: backend.driverVersion, nvmlVersion: backend.nvmlVersion, library: backend.nvml.libraryPath, resolved: backend.nvml.resolved, gpus, unavailable: backend.unavailable }) + '\n',
      );
      return 0;
    }
    io.stdout.write(`NVML ${backend.nvmlVersion ?? '?'}, driver ${backend.driverVersion ?? '?'} (${backend.nvml.libraryPath})\n`);
    if (!gpus.length && !backend.unavailable.length) io.stdout.write('No GPUs.\n');
    // A GPU that fails to open is listed with its error; the others are still listed (and measured).
    for (const u of backend.unavailable) io.stdout.write(`GPU ${u.index}: cannot be opened: ${u.error}\n`);
    for (const g of gpus) {
      const yes = Object.entries(g.supported).filter(([, v]) => v).map(([k]) => k);
      const no = Object.entries(g.supported).filter(([, v]) => !v).map(([k]) => k);
      io.stdout.write(
        `GPU ${g.index}: ${g.name}  ${g.uuid}\n` +
          `  architecture ${g.architecture ?? 'unknown'}, PCI ${g.pciBusId ?? 'unknown'}, memory ${g.memTotalBytes !== undefined ? formatBytes(g.memTotalBytes) : 'unknown'}\n` +
          `  power limit ${g.powerLimitMilliwatts !== undefined ? formatWatts(g.powerLimitMilliwatts / 1000) : 'unknown'}` +
          `${g.powerLimitMinMilliwatts !== undefined ? ` (range ${formatWatts(g.powerLimitMinMilliwatts / 1000)}-${formatWatts((g.powerLimitMaxMilliwatts ?? 0) / 1000)})` : ''}\n` +
          `  power reading: ${g.powerSource === 'instant' ? 'instant (NVML_FI_DEV_POWER_INSTANT)' : 'nvmlDeviceGetPowerUsage (1 s average on Ampere and newer)'}\n` +
          `  energy: ${g.energyMethod === 'counter' ? 'hardware counter (nvmlDeviceGetTotalEnergyConsumption)' : `integrated from power: ${g.energyMethodReason ?? ''}`}\n` +
          `  supported: ${yes.join(', ') || 'none'}\n` +
          (no.length ? `  not supported: ${no.join(', ')}\n` : ''),
      );
    }
    if (notices.length && !gpus.length) io.stdout.write(notices.join('\n') + '\n');
    return 0;
  } finally {
    backend.close();
  }
}
