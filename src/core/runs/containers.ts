/**
 * Containers on the host, told from /proc/<pid>/cgroup, for attaching to all of a container's
 * processes (`joules attach --container <id>`). A container's processes share its cgroup, whatever
 * their parent: `docker exec python train.py` is a child of the container runtime's shim, not of the
 * container's first process, so membership is by cgroup, not by descent.
 */
import * as fs from 'node:fs';

/** Where a 64-hex container id appears in a cgroup path, by runtime. */
const CONTAINER_ID = [
  /\/docker[-/]([0-9a-f]{64})(?:\.scope)?(?:\/|$)/, // Docker, cgroup v1 (/docker/<id>) and v2 (docker-<id>.scope)
  /\/cri-containerd-([0-9a-f]{64})\.scope/, // containerd (Kubernetes, systemd driver)
  /\/crio-([0-9a-f]{64})\.scope/, // CRI-O
  /\/libpod-([0-9a-f]{64})\.scope/, // Podman
  /\/kubepods[^\n]*\/([0-9a-f]{64})(?:\/|$)/, // Kubernetes, cgroupfs driver
];

/** The container id in a /proc/<pid>/cgroup text, or undefined for a process in no container. */
export function containerIdOf(cgroupText: string): string | undefined {
  for (const line of cgroupText.split('\n')) {
    // `hierarchy-ID:controllers:path`; the path is what names the container.
    const path = line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
    for (const re of CONTAINER_ID) {
      const m = re.exec(path);
      if (m) return m[1];
    }
  }
  return undefined;
}

/** How /proc is read (real files by default; tests give their own). */
export interface CgroupReader {
  pids(): number[];
  cgroup(pid: number): string | undefined;
  /** The parent's pid, or undefined when the process is gone. */
  ppid(pid: number): number | undefined;
}

export const procCgroups: CgroupReader = {
  pids: () => {
    try {
      return fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number);
    } catch {
      return [];
    }
  },
  cgroup: (pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    } catch {
      return undefined;
    }
  },
  ppid: (pid) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      return undefined;
    }
  },
};

/** A container id as given (12 or more hex digits, Docker's short form included) matched against a full one. */
export function sameContainer(given: string, full: string | undefined): boolean {
  return full !== undefined && given.length >= 12 && full.startsWith(given.toLowerCase());
}

/**
 * The processes of container `id` (12+ hex digits) now, and its first process (the one whose parent
 * is outside the container: the container's init, whose end is the container's).
 */
export function containerProcesses(id: string, reader: CgroupReader = procCgroups): { pids: number[]; init: number | undefined; fullId: string | undefined } {
  if (!/^[0-9a-fA-F]{12,64}$/.test(id)) throw new Error(`not a container id: "${id}" (12 to 64 hex digits, as \`docker ps\` shows)`);
  const pids: number[] = [];
  let fullId: string | undefined;
  for (const pid of reader.pids()) {
    const text = reader.cgroup(pid);
    const cid = text === undefined ? undefined : containerIdOf(text);
    if (!sameContainer(id, cid)) continue;
    if (fullId !== undefined && cid !== fullId) throw new Error(`"${id}" matches more than one container; give more of its id`);
    fullId = cid;
    pids.push(pid);
  }
  const inside = new Set(pids);
  // The container's init: a member whose parent is not one; the oldest (lowest pid) of those when
  // `docker exec` processes are there too (their parent, the runtime's shim, is outside as well).
  const roots = pids.filter((p) => !inside.has(reader.ppid(p) ?? -1)).sort((a, b) => a - b);
  return { pids: pids.sort((a, b) => a - b), init: roots[0], fullId };
}

/** A membership test for attribution: whether `pid` is in the container now (read once per pid by the caller). */
export function inContainer(fullId: string, reader: CgroupReader = procCgroups): (pid: number) => boolean {
  return (pid) => {
    const text = reader.cgroup(pid);
    return text !== undefined && containerIdOf(text) === fullId;
  };
}
