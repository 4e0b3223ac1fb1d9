// `gen-crd`: writes the CRD generated from the zod schema to crds/ and to the Helm chart's
// crds/ (or, with --check, checks that both are current).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CRD_FILE, renderCrd } from '../api/crd.ts';

/** The chart's copy of the CRD: Helm installs it from the chart's own crds/ folder. */
export const CHART_CRD_FILE = 'charts/standby-operator/crds/standby.dev_standbysites.yaml';

/** Every file that holds the generated CRD, relative to the repository root. */
export const CRD_FILES = [CRD_FILE, CHART_CRD_FILE] as const;

export async function genCrd(args: string[]): Promise<number> {
  const rendered = renderCrd();
  if (args.includes('--check')) {
    let stale = 0;
    for (const file of CRD_FILES) {
      const current = await readFile(file, 'utf8').catch(() => '');
      if (current !== rendered) {
        console.error(`${file} is stale: run npm run gen:crd and commit the result`);
        stale++;
      } else {
        console.log(`${file} is current`);
      }
    }
    return stale === 0 ? 0 : 1;
  }
  for (const file of CRD_FILES) {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, rendered);
    console.log(`wrote ${file}`);
  }
  return 0;
}
