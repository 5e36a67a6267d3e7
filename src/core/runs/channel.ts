/**
 * The run's channel: how the programs of a run talk to Joules without printing anything. A Unix
 * domain socket in a private folder (POSIX) or a loopback TCP port (Windows), created when the run
 * starts; its address and a random token go to the run in one environment variable, so every
 * process the run starts (DataLoader workers, torchrun ranks) inherits it. A connection counts only
 * after its first line presents the token. Messages: channelProtocol.ts.
 *
 * Robustness: each connection keeps at most one line of MAX_CHANNEL_LINE_BYTES; bad lines are
 * counted, never thrown; a client that disconnects with windows open leaves them to be closed at
 * the run's end (labelled so); at most MAX_CONNECTIONS clients at once.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ChannelMessage } from './channelProtocol';
import { LineSplitter, parseChannelLine } from './channelProtocol';

/** The environment variable holding `<unix|tcp>:<address>#<token>`. */
export const CHANNEL_ENV = 'JOULES_CHANNEL';

/** Concurrent clients: a run with 64 ranks x 16 DataLoader workers stays under it. */
const MAX_CONNECTIONS = 4096;
/** Answers waiting to be read by one client, at most. */
const MAX_UNREAD_REPLY_BYTES = 64 * 1024;
/** Bytes a connection may send before presenting its token. */
const MAX_UNAUTHENTICATED_BYTES = 1024;

/** The run's energy so far, as `joules.energy()` answers it. */
export interface ChannelEnergy {
  tS: number;
  /** Per counted GPU (NVML index as a string key, JSON's only key type), J since the run's start. */
  energyJ: Record<string, number>;
  totalJ: number;
}

/** What the session does with the messages (runSession.ts wires these to markers and work). */
export interface ChannelHandlers {
  step(n: number, samples: number | undefined, tokens: number | undefined): void;
  /** A window opened; `key` is unique within the run. */
  begin(key: string, label: string): void;
  /** A window closed; `closedAtRunEnd`: its client never closed it (crashed or forgot). */
  end(key: string, closedAtRunEnd: boolean): void;
  mark(label: string): void;
  energy(): Promise<ChannelEnergy>;
}

/** Counts of what the channel refused, for the run's `errors`. */
export type ChannelProblems = Record<string, number>;

interface Connection {
  id: number;
  socket: net.Socket;
  authed: boolean;
  splitter: LineSplitter;
  seenBytes: number;
  /** The client's window ids -> the session's keys, in opening order. */
  open: Map<string, string>;
}

export class RunChannel {
  private readonly connections = new Set<Connection>();
  /** Windows still open, by key -> label, across connections (closed or not by their client). */
  private readonly openWindows = new Map<string, string>();
  private nextConnection = 1;
  private closed = false;
  readonly problems: ChannelProblems = {};

  private constructor(
    private readonly server: net.Server,
    /** What goes into {@link CHANNEL_ENV}. */
    readonly envValue: string,
    private readonly token: string,
    private readonly dir: string | undefined,
    private readonly handlers: ChannelHandlers,
  ) {
    server.on('connection', (socket) => this.accept(socket));
  }

  /** Opens a channel; rejects when no socket can be made (the run then goes without one). */
  static async open(handlers: ChannelHandlers, platform: NodeJS.Platform = process.platform): Promise<RunChannel> {
    const token = crypto.randomBytes(16).toString('hex');
    const server = net.createServer();
    if (platform === 'win32') {
      await listen(server, { host: '127.0.0.1', port: 0 });
      const port = (server.address() as net.AddressInfo).port;
      return new RunChannel(server, `tcp:127.0.0.1:${port}#${token}`, token, undefined, handlers);
    }
    // A private folder (0700): other users cannot even reach the socket; the token guards the rest.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joules-'));
    const sock = path.join(dir, 'ch');
    try {
      await listen(server, { path: sock });
    } catch (e) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    return new RunChannel(server, `unix:${sock}#${token}`, token, dir, handlers);
  }

  private problem(what: string): void {
    this.problems[what] = (this.problems[what] ?? 0) + 1;
  }

  private accept(socket: net.Socket): void {
    if (this.closed || this.connections.size >= MAX_CONNECTIONS) {
      if (!this.closed) this.problem('too many connections');
      socket.destroy();
      return;
    }
    const c: Connection = { id: this.nextConnection++, socket, authed: false, splitter: new LineSplitter(), seenBytes: 0, open: new Map() };
    this.connections.add(c);
    socket.on('data', (chunk: Buffer) => this.receive(c, chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => this.connections.delete(c));
  }

  private receive(c: Connection, chunk: Buffer): void {
    if (!c.authed) c.seenBytes += chunk.length;
    const before = c.splitter.oversized;
    const lines = c.splitter.push(chunk);
    if (c.splitter.oversized > before) this.problem('message longer than 16 KiB');
    for (const line of lines) {
      if (c.socket.destroyed) return;
      const m = parseChannelLine(line);
      if ('error' in m) {
        if (!c.authed) {
          this.refuse(c);
          return;
        }
        if (m.error !== 'empty line') this.problem(`bad message (${m.error})`);
        continue;
      }
      this.handle(c, m);
    }
    // The token comes first and is short: a stranger does not get to fill a line buffer.
    if (!c.authed && !c.socket.destroyed && c.seenBytes > MAX_UNAUTHENTICATED_BYTES) this.refuse(c);
  }

  private refuse(c: Connection): void {
    this.problem('connection without the token');
    c.socket.destroy();
    this.connections.delete(c);
  }

  private handle(c: Connection, m: ChannelMessage): void {
    if (!c.authed) {
      if (m.t !== 'hello' || !safeEqual(m.token, this.token)) {
        this.refuse(c);
        return;
      }
      c.authed = true;
      return;
    }
    switch (m.t) {
      case 'hello':
        return;
      case 'step':
        this.handlers.step(m.n, m.samples, m.tokens);
        return;
      case 'begin': {
        if (c.open.has(m.w)) {
          this.problem('window opened twice');
          return;
        }
        const key = `${c.id}:${m.w}`;
        c.open.set(m.w, key);
        this.openWindows.set(key, m.label);
        this.handlers.begin(key, m.label);
        return;
      }
      case 'end': {
        const key = c.open.get(m.w);
        if (key === undefined) {
          this.problem('window closed that was not open');
          return;
        }
        c.open.delete(m.w);
        this.openWindows.delete(key);
        this.handlers.end(key, false);
        return;
      }
      case 'mark':
        this.handlers.mark(m.label);
        return;
      case 'energy': {
        const q = m.q;
        this.handlers.energy().then(
          (e) => this.reply(c, { t: 'energy', q, ...e }),
          (e: unknown) => this.reply(c, { t: 'error', q, message: e instanceof Error ? e.message : String(e) }),
        );
        return;
      }
    }
  }

  private reply(c: Connection, message: object): void {
    if (c.socket.destroyed || !c.socket.writable) return;
    // A client that asks without reading its answers does not get to grow Joules' memory.
    if (c.socket.writableLength > MAX_UNREAD_REPLY_BYTES) {
      this.problem('answers not read by the client');
      return;
    }
    c.socket.write(`${JSON.stringify(message)}\n`);
  }

  /** Number of clients connected now. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * The run has ended: windows nobody closed are closed now (`closedAtRunEnd`), the server stops
   * and the socket's folder goes. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const key of this.openWindows.keys()) this.handlers.end(key, true);
    this.openWindows.clear();
    for (const c of this.connections) c.socket.destroy();
    this.connections.clear();
    this.server.close();
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function listen(server: net.Server, options: net.ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}
