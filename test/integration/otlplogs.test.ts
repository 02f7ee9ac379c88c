// The operator's own log lines over OTLP (OTEL_LOGS_EXPORTER=otlp, pino-opentelemetry-transport), read from a
// real OTLP/HTTP receiver: a reconcile's line carries its job's trace context; a dead collector costs logs only.
import { expect } from 'chai';
import { useTestNamespace, waitFor } from '../support/cluster.js';
import { createJob, waitForPhase } from '../support/jobs.js';
import { makeJob } from '../support/jobbuilder.js';
import { OtlpReceiver } from '../support/otlpreceiver.js';
import type { OtlpAttribute, ReceivedLogRecord } from '../support/otlpreceiver.js';
import { startOperator, STARTED } from '../support/operator.js';
import type { OperatorProcess } from '../support/operator.js';
import { freePort } from '../support/ports.js';

function attr(attributes: OtlpAttribute[] | undefined, key: string): unknown {
  const value = attributes?.find((a) => a.key === key)?.value;
  return value && Object.values(value)[0];
}

describe('operator logs over OTLP', function () {
  const ns = useTestNamespace('otlplogs');
  let receiver: OtlpReceiver;
  const operators: OperatorProcess[] = [];

  beforeEach(async function () {
    receiver = await OtlpReceiver.start();
  });

  afterEach(async function () {
    await Promise.all(operators.splice(0).map((o) => o.kill()));
    await receiver.stop();
  });

  async function start(env: Record<string, string>): Promise<OperatorProcess> {
    const op = await startOperator(ns.name, [], STARTED, {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'otlp',
      ...env,
    });
    operators.push(op);
    return op;
  }

  it('sends a reconcile’s log line with its job’s trace_id and span_id as the record’s trace context', async function () {
    const op = await start({});
    await createJob(ns.name, makeJob('logged').items(['a', 'b']).obj());
    const job = await waitForPhase(ns.name, 'logged', ['Succeeded']);
    const key = `${ns.name}/logged`;
    const finished = (l: Record<string, unknown>): boolean =>
      l.job === key && l.msg === 'job phase changed' && l.phase === 'Succeeded';
    // stdout is written by the transport's worker thread too, a moment after the status write.
    const stdoutLine = await waitFor('the line in stdout', () => Promise.resolve(op.logs.find(finished)));
    expect(stdoutLine, 'the stdout line').to.deep.include({
      trace_id: job.status!.traceID,
      span_id: job.status!.trace!.spanID,
      trace_flags: '01',
    });
    const received = await waitFor('the job’s log record at the receiver', () =>
      Promise.resolve(
        receiver.logs().find((r) =>
          finished({
            job: attr(r.record.attributes, 'job'),
            msg: r.record.body?.stringValue,
            phase: attr(r.record.attributes, 'phase'),
          }),
        ),
      ),
    );
    expect(received.record).to.deep.include({
      traceId: job.status!.traceID,
      spanId: job.status!.trace!.spanID,
      flags: '01', // the W3C hex of the log line, passed through by the transport (coerced to 1 in protobuf)
      severityText: 'info',
    });
    // The trace fields are the record's context, not attributes; the resource is the operator's.
    expect(received.record.attributes?.map((a) => a.key)).to.not.include.members(['trace_id', 'span_id']);
    expect(attr(received.resource, 'service.name')).to.equal('mapreduce-operator');
    // A line about no job has no trace context.
    const started = receiver.logs().find((r: ReceivedLogRecord) => r.record.body?.stringValue === STARTED);
    expect(started?.record.traceId ?? '').to.equal('');
  });

  it('with the log collector dead, loses the logs but not the job, and stdout still has every line', async function () {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const op = await start({ OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: `${dead}/v1/logs` });
    await createJob(ns.name, makeJob('unlogged').items(['a', 'b', 'c']).obj());
    await waitForPhase(ns.name, 'unlogged', ['Succeeded']);
    // stdout is written by the transport's worker thread too, a moment after the status write.
    await waitFor('the line in stdout', () =>
      Promise.resolve(
        op.logs.find(
          (l) => l.job === `${ns.name}/unlogged` && l.msg === 'job phase changed' && l.phase === 'Succeeded',
        ),
      ),
    );
    expect(receiver.logs()).to.deep.equal([]);
  });
});
