// /healthz (the process is alive) and /readyz (caches are synced and, with leader election, this
// replica is leading or standing by) on --health-port, for the kubelet's probes.
import { createServer } from 'node:http';
import type { Server } from 'node:http';

export interface HealthState {
  ready: () => boolean;
}

export function startHealthServer(port: number, state: HealthState): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
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
