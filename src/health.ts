// /healthz (the process is alive and its work loop is not wedged) and /readyz (the caches are synced, on
// the leader and on standbys alike) on --health-port, for the kubelet's probes.
import { createServer } from 'node:http';
import type { Server } from 'node:http';

export interface HealthState {
  ready: () => boolean;
  /** Why the process is unhealthy (the kubelet should restart it), or undefined while it is healthy. */
  unhealthy: () => string | undefined;
}

export function startHealthServer(port: number, state: HealthState): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/healthz') {
      const why = state.unhealthy();
      res.writeHead(why ? 500 : 200, { 'content-type': 'text/plain' }).end(why ?? 'ok');
    } else if (path === '/readyz') {
      const ready = state.ready();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ok' : 'not ready');
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve(server));
  });
}
