/**
 * A sync lab for whole-daemon tests: N network namespaces ("firewalls") joined by a bridge-less
 * veth (two nodes) or a bridge namespace (three or more), each running one sync daemon —
 * ctsyncd (bin/ctsyncd, needs `npm run build`) or Debian's conntrackd 1.4.7 — on the same
 * conntrackd.conf. Used by the daemon tests (test/daemon) and the interop tests (test/interop).
 *
 * Safety: every address lives inside the lab's namespaces (10.254.<lab>.0/24, fd54:<lab>::/64);
 * daemons are stopped by PID; namespaces are deleted in teardown and at process exit.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export type DaemonKind = 'ctsyncd' | 'conntrackd';
export const ROOT = path.join(__dirname, '..', '..');
export const CTSYNCD = path.join(ROOT, 'bin', 'ctsyncd');

export interface LabOptions {
  /** One entry per node. */
  daemons: DaemonKind[];
  mode?: 'ftfw' | 'notrack' | 'alarm';
  transport?: 'udp' | 'multicast';
  /** Sync link over IPv6. */
  ipv6?: boolean;
  /** Extra lines inside the Mode block (e.g. 'StartupResync on'). */
  modeExtra?: string;
  /** Extra lines inside Sync (e.g. 'Options { ExpectationSync on }'). */
  syncExtra?: string;
  /** Extra lines inside General. */
  generalExtra?: string;
  /** Replace the generated config of node i (receives the generated text). */
  configOf?: (i: number, generated: string) => string;
}

let labCounter = 0;
const liveNamespaces = new Set<string>();
const liveProcs = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of liveProcs) if (p.pid && p.exitCode === null) try { process.kill(p.pid, 'SIGKILL'); } catch {}
  for (const ns of liveNamespaces) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
});

export function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 60_000 });
}

export class LabNode {
  proc: ChildProcess | undefined;
  log = '';
  constructor(
    readonly lab: SyncLab,
    readonly index: number,
    readonly ns: string,
    readonly dev: string,
    readonly addr: string,
    public daemon: DaemonKind,
    readonly dir: string,
    public conf: string,
  ) {}

  get confFile(): string {
    // a native JSON config (LabOptions.configOf) needs its extension: `.conf` means conntrackd.conf
    return path.join(this.dir, `${this.daemon}.${this.conf.trimStart().startsWith('{') ? 'json' : 'conf'}`);
  }

  /** Runs a command inside this node's namespace. */
  exec(cmd: string, args: string[], input?: string): string {
    return sh('ip', ['netns', 'exec', this.ns, cmd, ...args], input);
  }

  /** `conntrack ...` inside the namespace; returns stdout lines (entries only). */
  conntrack(args: string): string[] {
    const r = spawnSync('ip', ['netns', 'exec', this.ns, 'conntrack', ...args.split(/\s+/).filter(Boolean)], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0 && !/0 flow entries/.test(r.stderr)) throw new Error(`conntrack ${args}: ${r.stderr}`);
    return r.stdout.split('\n').filter((l) => l.trim() !== '');
  }

  async start(waitReady = true): Promise<void> {
    fs.writeFileSync(this.confFile, this.conf);
    for (const f of ['lock', 'ctl', 'ctl.ready']) fs.rmSync(path.join(this.dir, f), { force: true });
    const bin = this.daemon === 'ctsyncd' ? process.execPath : 'conntrackd';
    const args = this.daemon === 'ctsyncd' ? [CTSYNCD, '-C', this.confFile] : ['-C', this.confFile];
    const env = { ...process.env };
    delete env.NODE_OPTIONS; // tap's loader hooks must not leak into the daemon
    const p = spawn('ip', ['netns', 'exec', this.ns, bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    this.proc = p;
    liveProcs.add(p);
    this.log = '';
    p.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    p.on('exit', () => liveProcs.delete(p));
    if (waitReady) await this.waitSocket();
  }

  /** Waits until the control socket answers (the daemon finished start-up). */
  async waitSocket(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.proc && this.proc.exitCode !== null) throw new Error(`${this.daemon} on ${this.ns} exited (${this.proc.exitCode}): ${this.log}`);
      if (fs.existsSync(path.join(this.dir, 'ctl'))) {
        const r = this.client(['-s', 'cache']);
        if (r.code === 0) return;
      }
      await sleep(50);
    }
    throw new Error(`${this.daemon} on ${this.ns} did not start within ${timeoutMs} ms: ${this.log}`);
  }

  /** Runs the daemon's client with conntrackd's flags (same binary kind as the daemon). */
  client(args: string[], timeoutMs = 60_000): { code: number; stdout: string; stderr: string } {
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const cmd = this.daemon === 'ctsyncd' ? process.execPath : 'conntrackd';
    const full = this.daemon === 'ctsyncd' ? [CTSYNCD, '-C', this.confFile, ...args] : ['-C', this.confFile, ...args];
    const r = spawnSync('ip', ['netns', 'exec', this.ns, cmd, ...full], { encoding: 'utf8', timeout: timeoutMs, env });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /** `-e` / `-i` lines (entries only). */
  cache(which: 'internal' | 'external'): string[] {
    const r = this.client([which === 'internal' ? '-i' : '-e']);
    if (r.code !== 0) throw new Error(`${which} dump failed: ${r.stderr}`);
    return r.stdout.split('\n').filter((l) => /src=/.test(l));
  }

  /** Stops the daemon by PID (SIGTERM, then SIGKILL after 5 s). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return p?.exitCode ?? null;
    const done = new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
    // `ip netns exec` execs the daemon, so p.pid is the daemon's PID.
    process.kill(p.pid!, signal);
    const t = setTimeout(() => p.exitCode === null && process.kill(p.pid!, 'SIGKILL'), 5000);
    const code = await done;
    clearTimeout(t);
    return code;
  }
}

export class SyncLab {
  readonly nodes: LabNode[] = [];
  readonly id: number;
  readonly prefix: string;
  readonly dir: string;
  private bridgeNs: string | undefined;

  private constructor(readonly opts: LabOptions) {
    this.id = (process.pid * 7 + labCounter++) % 200 + 20;
    this.prefix = `sl${process.pid % 100000}-${labCounter}`;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ctsyncd-lab-'));
  }

  static async create(opts: LabOptions): Promise<SyncLab> {
    const lab = new SyncLab(opts);
    try {
      lab.build();
    } catch (e) {
      await lab.destroy();
      throw e;
    }
    return lab;
  }

  private addNs(name: string): string {
    const ns = `${this.prefix}-${name}`;
    sh('ip', ['netns', 'add', ns]);
    liveNamespaces.add(ns);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    return ns;
  }

  private addrOf(i: number): string {
    return this.opts.ipv6 ? `fd54:${this.id}::${i + 1}` : `10.254.${this.id}.${i + 1}`;
  }

  private build(): void {
    const n = this.opts.daemons.length;
    const plen = this.opts.ipv6 ? '64' : '24';
    const names: { ns: string; dev: string }[] = [];
    for (let i = 0; i < n; i++) names.push({ ns: this.addNs(`n${i}`), dev: `sy${i}` });
    if (n === 2) {
      sh('ip', ['link', 'add', `${this.prefix}a`, 'netns', names[0]!.ns, 'type', 'veth', 'peer', 'name', `${this.prefix}b`, 'netns', names[1]!.ns]);
      sh('ip', ['-n', names[0]!.ns, 'link', 'set', `${this.prefix}a`, 'name', names[0]!.dev]);
      sh('ip', ['-n', names[1]!.ns, 'link', 'set', `${this.prefix}b`, 'name', names[1]!.dev]);
    } else {
      this.bridgeNs = this.addNs('br');
      sh('ip', ['-n', this.bridgeNs, 'link', 'add', 'br0', 'type', 'bridge']);
      sh('ip', ['-n', this.bridgeNs, 'link', 'set', 'br0', 'up']);
      for (let i = 0; i < n; i++) {
        sh('ip', ['link', 'add', `${this.prefix}x${i}`, 'netns', names[i]!.ns, 'type', 'veth', 'peer', 'name', `${this.prefix}p${i}`, 'netns', this.bridgeNs]);
        sh('ip', ['-n', names[i]!.ns, 'link', 'set', `${this.prefix}x${i}`, 'name', names[i]!.dev]);
        sh('ip', ['-n', this.bridgeNs, 'link', 'set', `${this.prefix}p${i}`, 'master', 'br0', 'up']);
      }
    }
    for (let i = 0; i < n; i++) {
      const { ns, dev } = names[i]!;
      const addArgs = ['-n', ns, 'addr', 'add', `${this.addrOf(i)}/${plen}`, 'dev', dev];
      if (this.opts.ipv6) addArgs.push('nodad');
      sh('ip', addArgs);
      sh('ip', ['-n', ns, 'link', 'set', dev, 'up']);
      const dir = path.join(this.dir, `n${i}`);
      fs.mkdirSync(dir, { recursive: true });
      const node = new LabNode(this, i, ns, dev, this.addrOf(i), this.opts.daemons[i]!, dir, '');
      node.conf = this.configFor(node);
      this.nodes.push(node);
    }
  }

  /** conntrackd.conf for node i (both daemons read the same grammar). */
  configFor(node: LabNode): string {
    const o = this.opts;
    const mode = (o.mode ?? 'ftfw').toUpperCase();
    const v6 = o.ipv6 === true;
    let channel: string;
    if ((o.transport ?? 'udp') === 'multicast') {
      channel = v6
        ? `Multicast {\n IPv6_address ff15::${this.id}\n Group 3780\n Interface ${node.dev}\n Checksum on\n}`
        : `Multicast {\n IPv4_address 225.0.${this.id}.50\n Group 3780\n IPv4_interface ${node.addr}\n Interface ${node.dev}\n Checksum on\n}`;
    } else {
      const other = this.addrOf(node.index === 0 ? 1 : 0);
      channel = v6
        ? `UDP {\n IPv6_address ${node.addr}\n IPv6_Destination_Address ${other}\n Port 3780\n Interface ${node.dev}\n Checksum on\n}`
        : `UDP {\n IPv4_address ${node.addr}\n IPv4_Destination_Address ${other}\n Port 3780\n Interface ${node.dev}\n Checksum on\n}`;
    }
    const ignore = v6 ? `IPv6_address fd54:${this.id}::/64` : `IPv4_address 10.254.${this.id}.0/24`;
    const text = `Sync {
 Mode ${mode} {
${o.modeExtra ?? ''}
 }
${channel}
${o.syncExtra ?? ''}
}
General {
 Systemd off
 LogFile off
 LockFile ${node.dir}/lock
 UNIX { Path ${node.dir}/ctl }
 NetlinkBufferSize 8388608
 NetlinkBufferSizeMaxGrowth 134217728
 Filter From Userspace {
  Address Ignore { IPv4_address 127.0.0.1 ${ignore} }
 }
${o.generalExtra ?? ''}
}
`;
    return o.configOf ? o.configOf(node.index, text) : text;
  }

  async destroy(): Promise<void> {
    for (const n of this.nodes) {
      try {
        await n.stop();
      } catch {
        // already gone
      }
    }
    for (const ns of [...this.nodes.map((n) => n.ns), ...(this.bridgeNs ? [this.bridgeNs] : [])]) {
      spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      liveNamespaces.delete(ns);
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The environment for child processes: tap's loader hooks must not leak into them. */
export function childEnv(): NodeJS.ProcessEnv {
  const e = { ...process.env };
  delete e.NODE_OPTIONS;
  return e;
}

/**
 * Runs a compiled script (`node SCRIPT MODE JSON-ARGS`) inside a namespace and resolves with the
 * JSON of its last stdout line. Rejects on a non-zero exit or after `timeoutMs` (killed by PID).
 */
export function runJsonInNamespace<T>(ns: string, script: string, mode: string, args: unknown, timeoutMs: number): Promise<T> {
  if (!fs.existsSync(script)) throw new Error(`${script} missing: run npm run build first`);
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, script, mode, JSON.stringify(args)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: childEnv(),
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      reject(new Error(`${path.basename(script)} ${mode} timed out; stderr: ${err}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${path.basename(script)} ${mode} exited ${code}: ${err}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as T);
      } catch (e) {
        reject(new Error(`${path.basename(script)} ${mode}: bad output ${out.slice(0, 300)} (${(e as Error).message})`));
      }
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `fn` until it returns true or the time runs out; returns whether it became true. */
export async function waitFor(fn: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return true;
    await sleep(everyMs);
  }
  return fn();
}

/** Masks the parts of a cache line that legitimately differ between nodes and over time. */
export function normalizeLine(l: string): string {
  return l.replace(/\[active since \d+s\]/, '').replace(/\[expires in \d+s\]/, '').replace(/\s+/g, ' ').trim();
}

/** A `-i` line reduced to what `-e` shows: conntrackd prints no reply tuple for external entries. */
export function withoutReply(line: string): string {
  const toks = line.trim().split(/\s+/);
  const first = toks.findIndex((x) => x.startsWith('src='));
  const second = toks.findIndex((x, i) => i > first && x.startsWith('src='));
  if (first < 0 || second < 0) return toks.join(' ');
  let end = second;
  while (end < toks.length && /^(src|dst|sport|dport|type|code|id)=/.test(toks[end]!)) end++;
  return [...toks.slice(0, second), ...toks.slice(end)].join(' ');
}
