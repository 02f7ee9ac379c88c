// The pod calls of managePods: the three writes every attempt makes (create, finalizer patch, delete) and the
// read of a pod whose create met an existing one. Each goes through the KubeConfig as client-node's own calls do
// (its RequestContext: credentials, rate limiter, timeout, pooled connection: kubeconfig.ts), then straight to
// that connection pool's undici dispatcher. client-node's generated CoreV1Api instead serializes each body
// through its ObjectSerializer, sends it with undici's fetch, and turns each answer (a whole pod) into model
// objects with Date fields that nothing here reads; a --cpu-prof of a 2,000-item job put the two at about a
// quarter of the operator's CPU (docs/architecture.md, "CPU per attempt"). Pods are plain JSON here: the body
// is JSON.stringify'd, a create's or read's answer JSON.parse'd, a patch's and a delete's read to the end and
// dropped. A failure is client-node's ApiException with the API server's Status as its body, as the generated
// client reports it, so apierrors.ts reads both alike.
import { ApiException, HttpMethod, RequestContext } from '@kubernetes/client-node';
import type { KubeConfig, PatchStrategy, V1Pod } from '@kubernetes/client-node';
import { getGlobalDispatcher } from 'undici';
import type { Dispatcher } from 'undici';
import type { PodClient } from './clients.js';

function podsPath(namespace: string, name?: string): string {
  const base = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}

/** Response headers as ApiException keeps them: one string per name (repeated ones joined, as fetch's Headers does). */
function headerRecord(headers: Dispatcher.ResponseData['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

export class PodApi implements PodClient {
  constructor(private readonly kc: KubeConfig) {}

  async readNamespacedPod(param: { namespace: string; name: string }): Promise<V1Pod> {
    return JSON.parse(await this.send(HttpMethod.GET, podsPath(param.namespace, param.name))) as V1Pod;
  }

  async createNamespacedPod(param: { namespace: string; body: V1Pod }): Promise<V1Pod> {
    const text = await this.send(
      HttpMethod.POST,
      podsPath(param.namespace),
      JSON.stringify(param.body),
      'application/json',
    );
    return JSON.parse(text) as V1Pod;
  }

  async deleteNamespacedPod(param: {
    namespace: string;
    name: string;
    gracePeriodSeconds?: number;
  }): Promise<void> {
    const query =
      param.gracePeriodSeconds === undefined ? '' : `?gracePeriodSeconds=${param.gracePeriodSeconds}`;
    await this.send(HttpMethod.DELETE, podsPath(param.namespace, param.name) + query);
  }

  async patchNamespacedPod(param: {
    namespace: string;
    name: string;
    body: object;
    patchStrategy: PatchStrategy;
  }): Promise<void> {
    await this.send(
      HttpMethod.PATCH,
      podsPath(param.namespace, param.name),
      JSON.stringify(param.body),
      param.patchStrategy,
    );
  }

  /** The answer's body; an ApiException for any status outside 2xx. */
  private async send(method: HttpMethod, path: string, body?: string, contentType?: string): Promise<string> {
    const server = this.kc.getCurrentCluster()?.server;
    if (!server) throw new Error('No active cluster!'); // as client-node's makeApiClient says it
    const context = new RequestContext(server + path, method);
    context.setHeaderParam('Accept', 'application/json');
    if (body !== undefined) {
      context.setHeaderParam('Content-Type', contentType ?? 'application/json');
      context.setBody(body);
    }
    await this.kc.applySecurityAuthentication(context);
    // No dispatcher: a plain http:// server without TLS material (client-node's fetch then uses the global one).
    const dispatcher = context.getDispatcher() ?? getGlobalDispatcher();
    const url = new URL(context.getUrl());
    const response = await dispatcher.request({
      origin: url.origin,
      path: url.pathname + url.search,
      method,
      headers: context.getHeaders(),
      body: context.getBody() as string | undefined,
      signal: context.getSignal(),
    });
    const text = await response.body.text();
    if (response.statusCode >= 200 && response.statusCode <= 299) return text;
    throw new ApiException<string>(
      response.statusCode,
      `HTTP-Code: ${response.statusCode}\nMessage: ${method} ${path}`,
      text,
      headerRecord(response.headers),
    );
  }
}
