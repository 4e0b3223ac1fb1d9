// The multi-site harness's pure parts: the nftables rule set rendered from the cuts, and the
// parsing of --sites and --latency.
import { describe, expect, it } from 'vitest';
import { cutBetween, dedupe, healBetween, isolateCuts, renderRuleset, RUNNER } from '../../cluster/network.ts';
import { parseLatency, parseSiteList } from '../../cluster/sites.ts';

const links = [
  { site: 'primary', hostVeth: 'sb00-h0' },
  { site: 'standby', hostVeth: 'sb00-h1' },
  { site: 'witness', hostVeth: 'sb00-h2' },
];

/** The rules of one chain (the lines between its hook line and its closing brace). */
function chain(text: string, name: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(`  chain ${name} {`);
  if (start < 0) throw new Error(`no chain ${name} in\n${text}`);
  const end = lines.indexOf('  }', start);
  return lines.slice(start + 2, end).map((l) => l.trim());
}

describe('renderRuleset', () => {
  it('replaces the table in one transaction and accepts everything when nothing is cut', () => {
    const text = renderRuleset('standby_sb00', links, []);
    expect(text.startsWith('table bridge standby_sb00\ndelete table bridge standby_sb00\ntable bridge standby_sb00 {')).toBe(true);
    for (const c of ['forward', 'input', 'output']) {
      expect(text).toContain(`type filter hook ${c} priority 0; policy accept;`);
      expect(chain(text, c)).toEqual([]);
    }
  });

  it('drops IP frames between the bridge ports of cut sites, one rule per direction, ARP untouched', () => {
    const text = renderRuleset('t', links, cutBetween('primary', 'standby'));
    expect(chain(text, 'forward')).toEqual([
      'iifname "sb00-h0" oifname "sb00-h1" ether type { ip, ip6 } drop',
      'iifname "sb00-h1" oifname "sb00-h0" ether type { ip, ip6 } drop',
    ]);
    expect(chain(text, 'input')).toEqual([]);
  });

  it('cuts the runner in the input (site -> runner) and output (runner -> site) chains', () => {
    const text = renderRuleset('t', links, [{ from: 'witness', to: RUNNER }, { from: RUNNER, to: 'primary' }]);
    expect(chain(text, 'input')).toEqual(['iifname "sb00-h2" ether type { ip, ip6 } drop']);
    expect(chain(text, 'output')).toEqual(['oifname "sb00-h0" ether type { ip, ip6 } drop']);
    expect(chain(text, 'forward')).toEqual([]);
  });

  it('names the unknown site and the known ones', () => {
    expect(() => renderRuleset('t', links, [{ from: 'primary', to: 'dr' }])).toThrow('no site named "dr" (sites: primary, standby, witness)');
  });
});

describe('cuts', () => {
  it('dedupe drops repeats and self-cuts, keeping the order', () => {
    expect(dedupe([{ from: 'a', to: 'b' }, { from: 'a', to: 'a' }, { from: 'a', to: 'b' }, { from: 'b', to: 'a' }]))
      .toEqual([{ from: 'a', to: 'b' }, { from: 'b', to: 'a' }]);
  });

  it('isolate cuts both directions to every other site, and to the runner when asked', () => {
    expect(isolateCuts('a', ['a', 'b', 'c'], false)).toEqual([
      { from: 'a', to: 'b' }, { from: 'b', to: 'a' }, { from: 'a', to: 'c' }, { from: 'c', to: 'a' },
    ]);
    expect(isolateCuts('a', ['a', 'b'], true)).toEqual([
      { from: 'a', to: 'b' }, { from: 'b', to: 'a' }, { from: 'a', to: RUNNER }, { from: RUNNER, to: 'a' },
    ]);
  });

  it('healing one pair removes both of its directions and nothing else', () => {
    const cuts = [...cutBetween('a', 'b'), { from: 'a', to: 'c' }];
    expect(healBetween(cuts, 'b', 'a')).toEqual([{ from: 'a', to: 'c' }]);
  });
});

describe('parseSiteList', () => {
  it('gives a witness just an API server unless told otherwise', () => {
    expect(parseSiteList('primary,standby,witness')).toEqual([
      { name: 'primary', profile: 'full' },
      { name: 'standby', profile: 'full' },
      { name: 'witness', profile: 'api' },
    ]);
    expect(parseSiteList('witness:full, dr:api')).toEqual([{ name: 'witness', profile: 'full' }, { name: 'dr', profile: 'api' }]);
  });

  it('refuses bad names, profiles, duplicates and an empty list, saying what is allowed', () => {
    expect(() => parseSiteList('Primary')).toThrow(/site name "Primary" is not allowed: use lower-case letters/);
    expect(() => parseSiteList('runner')).toThrow(/not "runner"/);
    expect(() => parseSiteList('a:big')).toThrow('"a:big": a site is NAME, NAME:full or NAME:api');
    expect(() => parseSiteList('a,a')).toThrow('site "a" is named twice');
    expect(() => parseSiteList(' , ')).toThrow(/at least one site/);
  });
});

describe('parseLatency', () => {
  it('reads ms and s, and refuses anything else', () => {
    expect(parseLatency('40ms')).toBe(40);
    expect(parseLatency('0.1s')).toBe(100);
    expect(parseLatency('25')).toBe(25);
    expect(() => parseLatency('fast')).toThrow('--latency "fast" is not a duration: use e.g. 40ms or 0.1s');
    expect(() => parseLatency('11s')).toThrow('at most 10s');
  });
});
