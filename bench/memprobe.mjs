/* global process, setInterval, setTimeout */
// Loaded into the operator with --import by bench/memory.ts (never by the operator itself): every
// MEMPROBE_INTERVAL_MS (default 1000) it appends one JSON line of process.memoryUsage() and V8's heap
// statistics to MEMPROBE_FILE, so a run shows how much of the RSS is V8 heap, and how much of that is live.
import { appendFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';

const file = process.env.MEMPROBE_FILE;
const interval = Number(process.env.MEMPROBE_INTERVAL_MS || 1000);
if (file) {
  const started = Date.now();
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    const h = getHeapStatistics();
    const line = {
      t: (Date.now() - started) / 1000,
      rss: m.rss,
      heapTotal: m.heapTotal,
      heapUsed: m.heapUsed,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      heapLimit: h.heap_size_limit,
      mallocedMemory: h.malloced_memory,
    };
    appendFileSync(file, `${JSON.stringify(line)}\n`);
  }, interval);
  timer.unref();
}

// MEMPROBE_ALLOC_FILE: V8's sampling heap profiler from the start, counting objects the GC has collected
// too (what --heap-prof leaves out), so the profile shows where garbage is made; written after
// MEMPROBE_ALLOC_SECONDS (default 60).
const allocFile = process.env.MEMPROBE_ALLOC_FILE;
if (allocFile) {
  const { Session } = await import('node:inspector');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.startSampling', {
    samplingInterval: 64 * 1024,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  const timer = setTimeout(
    () =>
      session.post('HeapProfiler.stopSampling', (err, result) => {
        writeFileSync(allocFile, JSON.stringify(err ? { error: String(err) } : result.profile));
      }),
    Number(process.env.MEMPROBE_ALLOC_SECONDS || 60) * 1000,
  );
  timer.unref();
}
