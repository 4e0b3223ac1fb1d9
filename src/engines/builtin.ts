// Registers the engines built into this operator.
import { registerEngine } from './registry.ts';
import { genericEngine } from './generic.ts';
import { postgresqlEngine } from './postgresql/engine.ts';

export function registerBuiltinEngines(): void {
  registerEngine(genericEngine);
  registerEngine(postgresqlEngine);
}
