// client-node's Watch, on undici's request API rather than its fetch. client-node 2.0.1's Watch reads each
// watch through fetch, a web ReadableStream turned into a Node.js stream (Readable.fromWeb) and readline; a
// --cpu-prof of a 2,000-item job (about 16,000 pod events of ~4.6 KB) put those layers at about a tenth of the
// operator's CPU, beside the JSON.parse of each event, which stays. This one takes the same request
// (the KubeConfig's credentials and pooled connection: kubeconfig.ts), splits undici's body into lines at the
// newline byte (which never occurs inside a UTF-8 sequence, so a character split across chunks is decoded whole)
// and parses each line. Everything else is client-node's contract, which its ListWatch relies on: the URL and
// query, `callback(type, object, event)` per event, `done(err)` exactly once (null when the server ends the
// watch), the abort controller returned, a line that does not parse skipped, a non-200 answer ended with an
// error carrying its statusCode, and the watch ended with a TimeoutError after WATCH_INACTIVITY_TIMEOUT_MS
// without a byte (or until the answer's headers).
import { STATUS_CODES } from 'node:http';
import { HttpMethod, RequestContext, Watch } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import { getGlobalDispatcher } from 'undici';

/** No byte on a watch for this long ends it (client-node's Watch uses the same 30 s); the informer restarts it. */
export const WATCH_INACTIVITY_TIMEOUT_MS = 30_000;

/** The newline that ends each watch event. */
const NEWLINE = 0x0a;

type Callback = Parameters<Watch['watch']>[2];
type Done = Parameters<Watch['watch']>[3];

export class StreamWatch extends Watch {
  constructor(
    config: KubeConfig,
    private readonly inactivityTimeoutMs = WATCH_INACTIVITY_TIMEOUT_MS,
  ) {
    super(config);
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: Callback,
    done: Done,
  ): Promise<AbortController> {
    const cluster = this.config.getCurrentCluster();
    if (!cluster) throw new Error('No currently active cluster');
    const url = new URL(cluster.server + path);
    url.searchParams.set('watch', 'true');
    for (const [key, value] of Object.entries(queryParams ?? {}))
      if (value !== undefined) url.searchParams.set(key, String(value));

    const context = new RequestContext(url.toString(), HttpMethod.GET);
    await this.config.applySecurityAuthentication(context); // a throw here rejects, as client-node's does
    const controller = new AbortController();
    let ended = false;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.inactivityTimeoutMs);
    timer.unref();
    const end = (err: unknown): void => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      controller.abort();
      done(timedOut ? new DOMException('The operation was aborted due to timeout', 'TimeoutError') : err);
    };
    const emit = (line: Buffer): void => {
      if (line.length === 0) return;
      try {
        const event = JSON.parse(line.toString('utf8')) as { type: string; object: unknown };
        callback(event.type, event.object, event);
      } catch {
        // As client-node's Watch: a line that does not parse is skipped.
      }
    };

    try {
      const response = await (context.getDispatcher() ?? getGlobalDispatcher()).request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: 'GET',
        headers: context.getHeaders(),
        signal: controller.signal,
      });
      if (response.statusCode !== 200) {
        await response.body.dump();
        const error = new Error(STATUS_CODES[response.statusCode] ?? 'Internal Server Error');
        (error as Error & { statusCode: number }).statusCode = response.statusCode;
        throw error;
      }
      timer.refresh(); // the headers came: from here on an inactivity timeout
      // The start of a line that later chunks end, joined once its end comes (a job's event can be ~600 KB).
      let partial: Buffer[] = [];
      response.body.on('data', (chunk: Buffer) => {
        timer.refresh();
        let start = 0;
        for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
          const piece = chunk.subarray(start, nl);
          emit(partial.length > 0 ? Buffer.concat([...partial, piece]) : piece);
          partial = [];
          start = nl + 1;
        }
        if (start < chunk.length) partial.push(chunk.subarray(start));
      });
      response.body.on('end', () => {
        if (partial.length > 0) emit(Buffer.concat(partial));
        end(null);
      });
      response.body.on('error', end);
      response.body.on('close', () => end(null));
    } catch (err) {
      end(err);
    }
    return controller;
  }
}
