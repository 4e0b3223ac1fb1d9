// Network probes for the multi-site tests, run from the test runner (root namespace) or from
// inside a site (`ip netns exec`): a TCP connect, UDP datagrams (to see one direction of an
// asymmetric cut, which TCP cannot show), and connect round-trip times.
import { spawn } from 'node:child_process';
import { run } from '../cluster/common.ts';
import { inSite, type SiteRecord } from '../cluster/sites.ts';

/** Where a probe runs from: a site, or `runner` (the test process's namespace). */
export type From = SiteRecord | 'runner';

export type Reach = 'open' | 'refused' | 'timeout' | 'unreachable';

function command(from: From, args: string[]): [string, string[]] {
  return from === 'runner' ? [process.execPath, args] : inSite(from, process.execPath, args);
}

const TCP_PROBE = `
const [host, port, timeout] = process.argv.slice(1);
const s = require('node:net').connect({ host, port: Number(port) });
const done = (r) => { console.log(r); s.destroy(); process.exit(0); };
s.setTimeout(Number(timeout), () => done('timeout'));
s.on('connect', () => done('open'));
s.on('error', (e) => done(e.code === 'ECONNREFUSED' ? 'refused' : e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH' ? 'unreachable' : 'error ' + e.code));
`;

/** Whether a TCP connection from `from` to host:port opens within `timeoutMs`. */
export async function tcp(from: From, host: string, port: number, timeoutMs = 2_000): Promise<Reach> {
  const [cmd, args] = command(from, ['-e', TCP_PROBE, host, String(port), String(timeoutMs)]);
  const res = await run(cmd, args, { timeoutMs: timeoutMs + 10_000 });
  const out = res.stdout.trim();
  if (out === 'open' || out === 'refused' || out === 'timeout' || out === 'unreachable') return out;
  throw new Error(`tcp probe failed (exit ${res.code}): ${out} ${res.stderr.trim()}`);
}

const RTT_PROBE = `
const [host, port, n] = process.argv.slice(1);
const net = require('node:net');
(async () => {
  const times = [];
  for (let i = 0; i < Number(n); i++) {
    const t0 = process.hrtime.bigint();
    await new Promise((ok, ko) => { const s = net.connect({ host, port: Number(port) }, () => { s.destroy(); ok(); }); s.on('error', ko); });
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  console.log(times[Math.floor(times.length / 2)]);
})().catch((e) => { console.error(e.message); process.exit(1); });
`;

/** Median TCP connect time (one round trip) in ms. */
export async function connectRttMs(from: From, host: string, port: number, samples = 7): Promise<number> {
  const [cmd, args] = command(from, ['-e', RTT_PROBE, host, port.toString(), String(samples)]);
  const res = await run(cmd, args, { timeoutMs: 30_000 });
  if (res.code !== 0) throw new Error(`rtt probe failed: ${res.stderr.trim()}`);
  return Number(res.stdout.trim());
}

const UDP_LISTEN = `
const [addr, port] = process.argv.slice(1);
const s = require('node:dgram').createSocket('udp4');
s.on('message', (m) => console.log(m.toString()));
s.bind(Number(port), addr, () => console.log('listening'));
setTimeout(() => process.exit(0), 20000);
`;

const UDP_SEND = `
const [addr, port, text] = process.argv.slice(1);
const s = require('node:dgram').createSocket('udp4');
let i = 0;
const t = setInterval(() => { s.send(text, Number(port), addr); if (++i === 10) { clearInterval(t); setTimeout(() => process.exit(0), 100); } }, 50);
`;

/** Whether UDP datagrams sent from `from` reach a listener in `to` (at `to.address`). */
export async function udpArrives(from: From, to: SiteRecord, port: number): Promise<boolean> {
  const [lcmd, largs] = command(to, ['-e', UDP_LISTEN, to.address, String(port)]);
  const listener = spawn(lcmd, largs, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  listener.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  try {
    const deadline = Date.now() + 10_000;
    while (!out.includes('listening')) {
      if (Date.now() > deadline || listener.exitCode !== null) throw new Error(`udp listener in ${to.name} did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const text = `probe-${Math.random().toString(36).slice(2)}`;
    const [scmd, sargs] = command(from, ['-e', UDP_SEND, to.address, String(port), text]);
    const sent = await run(scmd, sargs, { timeoutMs: 15_000 });
    if (sent.code !== 0) throw new Error(`udp sender failed: ${sent.stderr.trim()}`);
    await new Promise((r) => setTimeout(r, 300));
    return out.includes(text);
  } finally {
    listener.kill('SIGKILL');
  }
}
