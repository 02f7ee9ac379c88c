// A KubeConfig whose API calls share one connection pool. client-node 2.0.1 builds a new undici Agent for
// every request (KubeConfig.applySecurityAuthentication → createDispatcher, uncached), so each call opened
// its own TLS connection and kept it alive: ~450 live TLS sockets and hundreds of MB during a 2,000-item
// job (measured with a heap snapshot; see the README's benchmark). This reuses the first Agent per
// cluster and user. Every request, watches included, first takes a token from the client-side rate
// limiter (--kube-api-qps, --kube-api-burst), as client-go's clients do. And every request but a watch (whose
// own inactivity timeout client-node sets) is aborted after API_REQUEST_TIMEOUT_MS: client-node sets none, so
// a connection that hung (an API server restarted under it) held its reconcile, and with it its job, forever.
import { KubeConfig } from '@kubernetes/client-node';
import type { RequestContext } from '@kubernetes/client-node';
import { DEFAULT_KUBE_API_BURST, DEFAULT_KUBE_API_QPS } from './config.js';
import { TokenBucket } from './ratelimit.js';

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

/**
 * How long one API request (not a watch) may take, from after its rate-limiter token: the API server's own
 * limit for a non-long-running request is 60 s (--request-timeout), so a request still unanswered after that
 * hangs on a dead connection. The call fails (TimeoutError) and is retried like any transient error.
 */
export const API_REQUEST_TIMEOUT_MS = 70_000;

export class PooledKubeConfig extends KubeConfig {
  private readonly dispatchers = new Map<string, Dispatcher>();

  constructor(
    readonly limiter = new TokenBucket(DEFAULT_KUBE_API_QPS, DEFAULT_KUBE_API_BURST),
    private readonly requestTimeoutMs = API_REQUEST_TIMEOUT_MS,
  ) {
    super();
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await this.limiter.take();
    await super.applySecurityAuthentication(context);
    // client-node's Watch passes its own signal to fetch and ignores this one.
    if (!context.getSignal()) context.setSignal(AbortSignal.timeout(this.requestTimeoutMs));
    const fresh = context.getDispatcher();
    if (!fresh) return;
    // Credentials in headers (tokens) are set per request above; TLS material belongs to the cluster and user.
    const key = JSON.stringify([this.getCurrentCluster()?.name ?? '', this.getCurrentUser()?.name ?? '']);
    const pooled = this.dispatchers.get(key);
    if (pooled) {
      // The fresh one never connected, so it holds nothing but memory: left to the garbage collector. Closing
      // it showed in a --cpu-prof (undici builds an error with a stack trace for every close).
      context.setDispatcher(pooled);
    } else {
      this.dispatchers.set(key, fresh);
    }
  }
}
