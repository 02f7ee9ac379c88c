// Structured JSON logs (pino) on stdout; every line about a job names it in the `job` field and its trace in
// trace_id, span_id and trace_flags. With OTEL_LOGS_EXPORTER=otlp the lines also go out over OTLP through
// pino-opentelemetry-transport, which maps those three fields to the log record's trace context. It runs in
// a worker thread with its own OpenTelemetry logs SDK: the operator hands each line over and moves on, and a
// dead collector costs log records (the batch queue drops when full), never a reconcile.
import { pino } from 'pino';
import type { DestinationStream, Logger } from 'pino';

/** The pino transport that sends log lines over OTLP. */
export const OTLP_LOGS_TRANSPORT = 'pino-opentelemetry-transport';

const OPTIONS = {
  base: { component: 'mapreduce-operator' },
  timestamp: pino.stdTimeFunctions.isoTime,
};

export function createLogger(level: string): Logger {
  return pino({ level, ...OPTIONS });
}

/** OTEL_LOGS_EXPORTER names otlp (and not none). The operator's default is stdout only. */
export function otlpLogsWanted(env: NodeJS.ProcessEnv): boolean {
  const names = (env.OTEL_LOGS_EXPORTER ?? '').split(',').map((s) => s.trim());
  return names.includes('otlp') && !names.includes('none');
}

/**
 * Logs to stdout and over OTLP, with pino's own multi-target transport: one worker thread writes the lines
 * to stdout (pino/file) and hands them to the OTLP transport, which reads
 * OTEL_EXPORTER_OTLP_[LOGS_]{ENDPOINT,PROTOCOL,HEADERS} from the environment it inherits. `resource` is the
 * operator's resource; the transport adds its own detectors' attributes under it. A failing transport is
 * reported on stderr and logging goes on without it. Lines carry `time` in epoch milliseconds here (ISO
 * otherwise): the transport takes `time` as the record's timestamp, and an ISO string stops it. At exit pino
 * ends the transport itself, waiting (blocked) until the worker has flushed, at most thread-stream's 10 s.
 */
export function createOtlpLogger(
  level: string,
  input: { version: string; resource: Record<string, unknown> },
): Logger {
  const transport = pino.transport({
    targets: [
      { target: 'pino/file', level, options: { destination: 1 } },
      {
        target: OTLP_LOGS_TRANSPORT,
        level,
        options: {
          loggerName: 'mapreduce-operator',
          serviceVersion: input.version,
          resourceAttributes: input.resource,
        },
      },
    ],
  }) as DestinationStream & NodeJS.EventEmitter;
  let failed = false;
  transport.on('error', (err: unknown) => {
    if (failed) return;
    failed = true;
    process.stderr.write(`mapreduce-operator: log transport failed: ${String(err)}\n`);
  });
  // Epoch milliseconds: the transport takes `time` as the record's timestamp, and an ISO string stops it.
  return pino({ level, ...OPTIONS, timestamp: pino.stdTimeFunctions.epochTime }, transport);
}
