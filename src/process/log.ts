// JSON logs (pino). Every line about a site carries its namespace and name.
import { pino, type Logger } from 'pino';

export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { component: 'standby-operator' }, timestamp: pino.stdTimeFunctions.isoTime });
}

export type { Logger };
