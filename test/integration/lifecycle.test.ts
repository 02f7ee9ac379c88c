// The operator process: health endpoints, graceful shutdown, leader election, TTL, large items.
import { expect } from 'chai';
import type { JsonValue } from '../../src/api/types.js';
import { V1MicroTime } from '@kubernetes/client-node';
import { cluster, sleep, useTestNamespace, waitFor } from '../support/cluster.js';
import { createJob, getJob, jobPods, waitForPhase } from '../support/jobs.js';
import { makeJob } from '../support/jobbuilder.js';
import { startOperator } from '../support/operator.js';
import type { OperatorProcess } from '../support/operator.js';

describe('operator lifecycle', function () {
  const ns = useTestNamespace('life');
  const operators: OperatorProcess[] = [];

  afterEach(async function () {
    await Promise.all(operators.splice(0).map((o) => o.kill()));
  });

  it('serves /healthz and /readyz, and exits 0 on SIGTERM', async function () {
    const op = await startOperator(ns.name);
    operators.push(op);
    const port = op.logs.find((l) => typeof l.healthPort === 'number')?.healthPort as number;
    const healthz = await fetch(`http://127.0.0.1:${port}/healthz`);
    const readyz = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect([healthz.status, await healthz.text(), readyz.status, await readyz.text()]).to.deep.equal([
      200,
      'ok',
      200,
      'ok',
    ]);
    expect(await op.stop()).to.equal(0);
    expect(op.logs.map((l) => l.msg)).to.include('shutting down: no new work, finishing in-flight writes');
  });

  it('runs one leader at a time; a standby takes over when the leader steps down', async function () {
    const flags = [
      '--leader-elect',
      `--leader-election-namespace=${ns.name}`,
      '--leader-election-id=mr-leader',
    ];
    const first = await startOperator(ns.name, flags);
    operators.push(first);
    expect(first.logs.map((l) => l.msg)).to.include('became leader');
    const second = await startOperator(ns.name, flags, 'waiting to become leader');
    operators.push(second);
    const lease = await cluster().coordination.readNamespacedLease({ namespace: ns.name, name: 'mr-leader' });
    const firstIdentity = first.logs.find((l) => l.msg === 'mapreduce-operator starting')?.identity;
    expect(lease.spec?.holderIdentity).to.equal(firstIdentity);

    await createJob(ns.name, makeJob('handover').items(['a', 'b', 'c', 'd']).parallelism(2).obj());
    await waitFor('the leader to start pods', async () => (await jobPods(ns.name, 'handover')).length > 0);
    expect(second.logs.map((l) => l.msg)).to.not.include('controller started');
    expect(await first.stop()).to.equal(0); // releases the lease
    await waitFor('the standby to lead', () =>
      Promise.resolve(second.logs.some((l) => l.msg === 'controller started')),
    );
    const job = await waitForPhase(ns.name, 'handover', ['Succeeded', 'Failed']);
    expect(job.status).to.deep.include({ phase: 'Succeeded', succeededItems: 4 });
  });

  it('leaves the lease to a holder with a skewed clock while it renews, and takes it once it stops', async function () {
    this.timeout(120_000);
    const lease = 'mr-skewed';
    const hourAgo = Date.now() - 3_600_000;
    const { coordination } = cluster();
    await coordination.createNamespacedLease({
      namespace: ns.name,
      body: {
        metadata: { name: lease },
        spec: { holderIdentity: 'skewed', leaseDurationSeconds: 15, renewTime: new V1MicroTime(hourAgo) },
      },
    });
    // The holder renews every 2 s with its clock an hour behind, for 25 s.
    const renewUntil = Date.now() + 25_000;
    let renewals = 0;
    const renewing = (async () => {
      while (Date.now() < renewUntil) {
        const current = await coordination.readNamespacedLease({ namespace: ns.name, name: lease });
        current.spec!.renewTime = new V1MicroTime(hourAgo + (Date.now() - renewUntil + 25_000));
        await coordination.replaceNamespacedLease({ namespace: ns.name, name: lease, body: current });
        renewals++;
        await sleep(2_000);
      }
    })();
    const op = await startOperator(
      ns.name,
      ['--leader-elect', `--leader-election-namespace=${ns.name}`, `--leader-election-id=${lease}`],
      'waiting to become leader',
    );
    operators.push(op);
    await renewing;
    const stoppedAt = Date.now();
    const holderWhileRenewing = (await coordination.readNamespacedLease({ namespace: ns.name, name: lease }))
      .spec?.holderIdentity;
    expect([
      holderWhileRenewing,
      renewals >= 10,
      op.logs.some((l) => l.msg === 'became leader'),
    ]).to.deep.equal(['skewed', true, false]);
    await waitFor('the operator to take the lease', () =>
      Promise.resolve(op.logs.some((l) => l.msg === 'controller started')),
    );
    // Not before the lease duration has passed without a change (as this replica saw it).
    expect(Date.now() - stoppedAt).to.be.at.least(13_000);
    const taken = await coordination.readNamespacedLease({ namespace: ns.name, name: lease });
    const identity = op.logs.find((l) => l.msg === 'mapreduce-operator starting')?.identity;
    expect([taken.spec?.holderIdentity, taken.spec?.leaseTransitions]).to.deep.equal([identity, 1]);
  });

  it('exits at once when another replica takes its lease, and is ready on standby once its caches synced', async function () {
    const lease = 'mr-taken';
    const flags = [
      '--leader-elect',
      `--leader-election-namespace=${ns.name}`,
      `--leader-election-id=${lease}`,
    ];
    const leader = await startOperator(ns.name, flags);
    operators.push(leader);
    const standby = await startOperator(ns.name, flags, 'waiting to become leader');
    operators.push(standby);
    const port = standby.logs.find((l) => typeof l.healthPort === 'number')?.healthPort as number;
    const readyz = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect([readyz.status, standby.logs.some((l) => l.msg === 'caches synced')]).to.deep.equal([200, true]);

    const { coordination } = cluster();
    const current = await coordination.readNamespacedLease({ namespace: ns.name, name: lease });
    current.spec = { ...current.spec, holderIdentity: 'thief', renewTime: new V1MicroTime() };
    await coordination.replaceNamespacedLease({ namespace: ns.name, name: lease, body: current });
    const code = await leader.exited;
    const lost = leader.logs.find((l) => l.msg === 'leadership lost: exiting');
    expect([code, lost?.why]).to.deep.equal([1, 'another replica holds the lease']);
    expect(standby.proc.exitCode).to.equal(null);
  });

  it('keeps its lease while the controller spends its whole API budget: renewals do not queue behind pod calls', async function () {
    this.timeout(90_000);
    const lease = 'mr-busy';
    const flags = [
      '--leader-elect',
      `--leader-election-namespace=${ns.name}`,
      `--leader-election-id=${lease}`,
      '--kube-api-qps=0.2', // one call per 5 s once the burst is spent
      '--kube-api-burst=8',
    ];
    const op = await startOperator(ns.name, flags);
    operators.push(op);
    await createJob(
      ns.name,
      makeJob('busy')
        .items(Array.from({ length: 10 }, (_, i) => i))
        .parallelism(10)
        .obj(),
    );
    // Behind the controller's limiter a renewal waited for the calls queued before it (5 s each), past
    // RENEW_DEADLINE_MS (10 s), and the leader exited within ~15 s. The Lease has a client of its own.
    await sleep(25_000);
    const pods = await jobPods(ns.name, 'busy');
    expect(pods.length, 'the controller was held to its budget').to.be.below(10);
    expect(op.logs.filter((l) => l.msg === 'lost leadership').map((l) => l.why)).to.deep.equal([]);
    expect(op.proc.exitCode).to.equal(null);
    const held = await cluster().coordination.readNamespacedLease({ namespace: ns.name, name: lease });
    const identity = op.logs.find((l) => l.msg === 'mapreduce-operator starting')?.identity;
    expect(held.spec?.holderIdentity).to.equal(identity);
  });

  it('deletes a finished job after ttlSecondsAfterFinished', async function () {
    operators.push(await startOperator(ns.name));
    await createJob(ns.name, makeJob('ttl').items(['a']).ttlSecondsAfterFinished(1).obj());
    await waitFor('the job to be deleted', async () => {
      try {
        await getJob(ns.name, 'ttl');
        return false;
      } catch {
        return true;
      }
    });
  });

  it('mounts an item over 32 KiB as a file instead of an env var', async function () {
    operators.push(await startOperator(ns.name));
    const big: JsonValue = { blob: 'x'.repeat(40 * 1024) };
    await createJob(
      ns.name,
      makeJob('big').items(['small', big]).mapAnnotation('sim.mapreduce.dev/never-finish', 'true').obj(),
    );
    const pod = await waitFor('the large item’s pod', async () =>
      (await jobPods(ns.name, 'big')).find((p) => p.metadata?.name === 'big-1-0'),
    );
    const env = Object.fromEntries((pod.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]));
    expect(env.MAPREDUCE_ITEM).to.equal(undefined);
    expect(env.MAPREDUCE_ITEM_FILE).to.equal('/var/run/mapreduce/item/item.json');
    expect(pod.spec?.volumes?.find((v) => v.name === 'mapreduce-item')?.configMap).to.deep.include({
      name: 'big-items-0',
      items: [{ key: '1', path: 'item.json' }],
    });
    const cm = await cluster().core.readNamespacedConfigMap({ namespace: ns.name, name: 'big-items-0' });
    expect(cm.data?.['1']).to.equal(JSON.stringify(big));
  });
});
