// `gen-crd`: writes the CRD generated from the zod schema to crds/ (or checks it is current).
import { readFile, writeFile } from 'node:fs/promises';
import { CRD_FILE, renderCrd } from '../api/crd.ts';

export async function genCrd(args: string[]): Promise<number> {
  const rendered = renderCrd();
  if (args.includes('--check')) {
    const current = await readFile(CRD_FILE, 'utf8').catch(() => '');
    if (current !== rendered) {
      console.error(`${CRD_FILE} is stale: run npm run gen:crd and commit the result`);
      return 1;
    }
    console.log(`${CRD_FILE} is current`);
    return 0;
  }
  await writeFile(CRD_FILE, rendered);
  console.log(`wrote ${CRD_FILE}`);
  return 0;
}
