// Structured JSON logs (pino) on stdout; every line about a job names it in the `job` field.
import { pino } from 'pino';
import type { Logger } from 'pino';

export function createLogger(level: string): Logger {
  return pino({ level, base: { component: 'mapreduce-operator' }, timestamp: pino.stdTimeFunctions.isoTime });
}
