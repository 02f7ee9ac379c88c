// A watch on etcd itself, under the API server: it sees every write the API server makes to a key prefix, in
// revision order, and resumes after an etcd or API server restart from the revision after the last one it saw,
// so nothing written in between is missed (a compaction in between would be: it is reported, not hidden).
// The fault suite counts pod creations with it — a watch through the API server would break with the API
// server it restarts, and a pod created and deleted in that gap would go unseen.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, sleep } from './cluster.js';

/** One write to a key: a put (version 1 is the key's creation) or a delete. */
export interface EtcdEvent {
  type: 'PUT' | 'DELETE';
  key: string;
  /** The key's version after a put: 1 when this put created it. 0 for a delete. */
  version: number;
  modRevision: number;
}

interface WatchResponse {
  result?: {
    header?: { revision?: string };
    created?: boolean;
    canceled?: boolean;
    compact_revision?: string;
    cancel_reason?: string;
    events?: { type?: 'PUT' | 'DELETE'; kv?: { key?: string; version?: string; mod_revision?: string } }[];
  };
  error?: { message?: string };
}

/** Between attempts to reach etcd again while it restarts. */
const RECONNECT_DELAY_MS = 200;

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** The end of the range of every key starting with prefix (etcd's prefix convention: last byte + 1). */
function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8');
  bytes[bytes.length - 1]! += 1;
  return bytes.toString('base64');
}

/** etcd's client URL, as the local control plane's API server was started with it (.cluster/run). */
export function localEtcdUrl(): string {
  const pid = readFileSync(path.join(REPO_ROOT, '.cluster', 'run', 'kube-apiserver.pid'), 'utf8').trim();
  const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  const flag = args.find((a) => a.startsWith('--etcd-servers='));
  if (!flag) throw new Error(`kube-apiserver (pid ${pid}) has no --etcd-servers flag`);
  return flag.slice('--etcd-servers='.length).split(',')[0]!;
}

/** Where the API server keeps a namespace's pods in etcd (its default --etcd-prefix, /registry). */
export function podKeyPrefix(namespace: string): string {
  return `/registry/pods/${namespace}/`;
}

export class EtcdPrefixWatch {
  readonly events: EtcdEvent[] = [];
  /** Times the watch was created again after its stream ended (etcd or the connection went away). */
  resumes = 0;
  /** Set when etcd could not replay what was missed (compacted); the record is then incomplete. */
  lost: string | undefined;
  private nextRevision = 0;
  private stopped = false;
  private createdOnce = false;
  private abort: AbortController | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly url: string,
    readonly prefix: string,
  ) {}

  /** Starts from etcd's current revision: every later write is seen. Resolves once the watch is created. */
  async start(): Promise<void> {
    const res = await fetch(`${this.url}/v3/kv/range`, {
      method: 'POST',
      body: JSON.stringify({ key: b64(this.prefix), range_end: prefixEnd(this.prefix), count_only: true }),
    });
    const body = (await res.json()) as { header?: { revision?: string } };
    this.nextRevision = Number(body.header?.revision ?? 0) + 1;
    let created!: () => void;
    const ready = new Promise<void>((resolve) => (created = resolve));
    this.loop = this.run(created);
    await ready;
  }

  /** Puts that created a key (version 1): one per object created, even one deleted again at once. */
  creations(): EtcdEvent[] {
    return this.events.filter((e) => e.type === 'PUT' && e.version === 1);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    await this.loop;
  }

  private async run(created: () => void): Promise<void> {
    while (!this.stopped) {
      try {
        await this.stream(created);
      } catch {
        // etcd is restarting, or the connection was cut: resume from the next revision
      }
      if (this.stopped || this.lost) return;
      await sleep(RECONNECT_DELAY_MS);
    }
  }

  private async stream(created: () => void): Promise<void> {
    this.abort = new AbortController();
    const res = await fetch(`${this.url}/v3/watch`, {
      method: 'POST',
      signal: this.abort.signal,
      body: JSON.stringify({
        create_request: {
          key: b64(this.prefix),
          range_end: prefixEnd(this.prefix),
          start_revision: String(this.nextRevision),
        },
      }),
    });
    if (!res.ok || !res.body) throw new Error(`etcd watch: HTTP ${res.status}`);
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (line) this.handle(JSON.parse(line) as WatchResponse, created);
        if (this.lost) return;
      }
    }
  }

  private handle(msg: WatchResponse, created: () => void): void {
    const r = msg.result;
    if (msg.error || !r) throw new Error(`etcd watch: ${msg.error?.message ?? 'no result'}`);
    if (r.created) {
      if (this.createdOnce) this.resumes++;
      this.createdOnce = true;
      created();
    }
    if (r.compact_revision && r.compact_revision !== '0') {
      this.lost = `compacted at revision ${r.compact_revision}; wanted ${this.nextRevision}`;
      return;
    }
    if (r.canceled) throw new Error(`etcd watch cancelled: ${r.cancel_reason ?? ''}`);
    for (const e of r.events ?? []) {
      const modRevision = Number(e.kv?.mod_revision ?? 0);
      this.events.push({
        type: e.type ?? 'PUT',
        key: Buffer.from(e.kv?.key ?? '', 'base64').toString('utf8'),
        version: Number(e.kv?.version ?? 0),
        modRevision,
      });
      this.nextRevision = Math.max(this.nextRevision, modRevision + 1);
    }
  }
}
