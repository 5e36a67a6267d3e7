import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Where NVML lives, in the order we try it. Facts: Linux ships `libnvidia-ml.so.1` with the driver
 * (no `.so` symlink without the dev package); WSL puts it under /usr/lib/wsl/lib; Windows has
 * `nvml.dll` in System32 on current drivers and under the NVSMI folder on older ones; macOS has none.
 */
export function nvmlCandidates(
  platform: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
): string[] {
  const candidates: string[] = [];
  const override = env.JOULES_NVML_LIBRARY?.trim();
  if (override) candidates.push(override);
  if (platform === 'win32') {
    const systemRoot = env.SystemRoot ?? env.windir ?? 'C:\\Windows';
    const programFiles = env.ProgramW6432 ?? env.ProgramFiles ?? 'C:\\Program Files';
    candidates.push(path.win32.join(systemRoot, 'System32', 'nvml.dll'));
    candidates.push(path.win32.join(programFiles, 'NVIDIA Corporation', 'NVSMI', 'nvml.dll'));
  } else if (platform !== 'darwin') {
    // The bare soname lets the dynamic loader search its cache (ldconfig) and LD_LIBRARY_PATH.
    candidates.push('libnvidia-ml.so.1');
    candidates.push('/usr/lib/wsl/lib/libnvidia-ml.so.1');
    for (const dir of ['/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib/aarch64-linux-gnu', '/usr/local/nvidia/lib64']) {
      const p = path.posix.join(dir, 'libnvidia-ml.so.1');
      if (fs.existsSync(p)) candidates.push(p);
    }
  }
  return [...new Set(candidates)];
}
