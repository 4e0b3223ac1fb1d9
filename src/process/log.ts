// JSON logs (pino). Every line about a site carries its namespace and name.
import { pino, type Logger } from 'pino';

/** Logs go to stdout, or to stderr (fd 2) for commands whose stdout is their result. */
export function createLogger(level = process.env.LOG_LEVEL ?? 'info', fd: 1 | 2 = 1): Logger {
  return pino(
    { level, base: { component: 'standby-operator' }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ fd, sync: true }),
  );
}

export type { Logger };
