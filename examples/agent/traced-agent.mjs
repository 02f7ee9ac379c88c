// A map agent that joins the job's trace: it reads TRACEPARENT/TRACESTATE/BAGGAGE from its environment
// (set by the operator), records its own span as a child of its agent span, keeps the job's baggage on that
// span, and writes its result as the termination message. Configure export with the usual OTEL_* variables;
// the operator already sets OTEL_RESOURCE_ATTRIBUTES with the pod's Kubernetes attributes. On the local
// cluster's real node it runs from the image mapreduce.local/node (hack/realnode/images.sh).
//
//   node traced-agent.mjs            (in a pod: MAPREDUCE_ITEM holds a line of text)
import { writeFileSync } from 'node:fs';
import { context, propagation, SpanStatusCode, trace } from '@opentelemetry/api';
import { EnvironmentGetter } from '@opentelemetry/propagator-env-carrier';
import { NodeSDK } from '@opentelemetry/sdk-node';

const sdk = new NodeSDK({ serviceName: process.env.OTEL_SERVICE_NAME ?? 'wordcount-agent' });
sdk.start();

const parent = propagation.extract(context.active(), undefined, new EnvironmentGetter());
const tracer = trace.getTracer('wordcount-agent');
const resultPath = process.env.MAPREDUCE_TERMINATION_LOG ?? '/dev/termination-log';

let exitCode = 0;
context.with(parent, () =>
  tracer.startActiveSpan('wordcount.count', (span) => {
    // The job's baggage (BAGGAGE: its name, namespace, this item's index and spec.telemetry.baggage), kept on
    // the span so a trace backend can search by it.
    for (const [key, entry] of propagation.getBaggage(parent)?.getAllEntries() ?? [])
      span.setAttribute(`baggage.${key}`, entry.value);
    try {
      const line = JSON.parse(process.env.MAPREDUCE_ITEM ?? '""');
      const counts = {};
      for (const word of String(line).toLowerCase().split(/\W+/).filter(Boolean))
        counts[word] = (counts[word] ?? 0) + 1;
      span.setAttribute('wordcount.distinct_words', Object.keys(counts).length);
      writeFileSync(resultPath, JSON.stringify(counts));
    } catch (err) {
      span.recordException(err);
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(err) });
      exitCode = 1;
    } finally {
      span.end();
    }
  }),
);
await sdk.shutdown();
process.exit(exitCode);
