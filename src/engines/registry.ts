// Engines by type. Adding an engine: write its module, add it here.
import type { EngineSpec } from '../api/spec.ts';
import type { Engine } from './engine.ts';
import { genericEngine } from './generic.ts';

const engines = new Map<string, Engine>([[genericEngine.type, genericEngine]]);

export function registerEngine(engine: Engine): void {
  engines.set(engine.type, engine);
}

export function engineFor(spec: EngineSpec): Engine {
  const engine = engines.get(spec.type);
  if (!engine) throw new Error(`engine ${spec.type} is not built into this operator`);
  return engine;
}
