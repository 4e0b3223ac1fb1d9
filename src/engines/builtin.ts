// Registers the engines built into this operator.
import { registerEngine } from './registry.ts';
import { genericEngine } from './generic.ts';

export function registerBuiltinEngines(): void {
  registerEngine(genericEngine);
}
