/** What the idle-GPU alert says about a process, read from /proc (Linux); fields are absent elsewhere. */
import * as fs from 'node:fs';
import * as os from 'node:os';

export interface ProcessInfo {
  pid: number;
  /** The executable's short name (`python3`). */
  name?: string;
  /** Arguments joined by spaces. */
  commandLine?: string;
  /** Real user id, and whether it is the editor's own user (only then may Joules signal it). */
  uid?: number;
  own: boolean;
  /** Gone by the time it was looked up. */
  gone: boolean;
}

export function processInfo(pid: number): ProcessInfo {
  let status: string;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    // Not Linux, or the process ended.
    return { pid, own: false, gone: process.platform === 'linux' };
  }
  const name = /^Name:\s*(.*)$/m.exec(status)?.[1]?.trim();
  const uidText = /^Uid:\s*(\d+)/m.exec(status)?.[1];
  const uid = uidText === undefined ? undefined : Number(uidText);
  let commandLine: string | undefined;
  try {
    commandLine = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    commandLine = undefined;
  }
  const myUid = os.userInfo().uid;
  return { pid, ...(name ? { name } : {}), ...(commandLine ? { commandLine } : {}), ...(uid !== undefined ? { uid } : {}), own: uid !== undefined && uid === myUid, gone: false };
}
