// ResultStore against the real API server, with two replicas' views of one job: a status write conditioned on
// the resourceVersion read (the real API server refuses a stale one), immutable pieces whose annotation can
// still change, and deletes conditioned on a piece's version. No operator runs in the namespace: the test plays
// both replicas, in the order the short fault suite's seed 1054530210 suggested (a piece listed by one
// replica's status write, then rewritten by a replica with a stale view: 20 results stored twice).
import { expect } from 'chai';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { ANNOTATION_RESULTS_FENCE, ANNOTATION_WRITTEN_AT_VERSION } from '../../src/api/constants.js';
import { GROUP, PLURAL, VERSION } from '../../src/api/types.js';
import type { MapReduceJob, MapReduceJobStatus } from '../../src/api/types.js';
import { apiStatusCode } from '../../src/apierrors.js';
import type { Piece } from '../../src/controller/resultpieces.js';
import { listedResults, PieceInUseError, ResultStore } from '../../src/controller/resultstore.js';
import { cluster, useTestNamespace } from '../support/cluster.js';
import { makeJob } from '../support/jobbuilder.js';
import { createJob, getJob, jobConfigMaps } from '../support/jobs.js';

const R = (first: number, ...indexes: number[]): Piece => ({
  first,
  data: Object.fromEntries([first, ...indexes].map((i) => [String(i), `"r${i}"`])),
});

/** One replica's status write, as the controller makes it: a replace conditioned on the version it read. */
async function writeStatus(job: MapReduceJob, status: MapReduceJobStatus): Promise<MapReduceJob> {
  return (await cluster().custom.replaceNamespacedCustomObjectStatus({
    group: GROUP,
    version: VERSION,
    namespace: job.metadata.namespace!,
    plural: PLURAL,
    name: job.metadata.name!,
    body: { apiVersion: job.apiVersion, kind: job.kind, metadata: job.metadata, status },
  })) as MapReduceJob;
}

/** Each stored piece: its data and the version it records. */
async function pieces(
  ns: string,
): Promise<Record<string, { data: Record<string, string>; writtenAt?: string }>> {
  const list: V1ConfigMap[] = await jobConfigMaps(ns, 'wc', 'results');
  return Object.fromEntries(
    list.map((cm) => [
      cm.metadata!.name!,
      { data: cm.data ?? {}, writtenAt: cm.metadata?.annotations?.[ANNOTATION_WRITTEN_AT_VERSION] },
    ]),
  );
}

describe('ResultStore on the real API server', function () {
  const ns = useTestNamespace('results');
  const store = (): ResultStore => new ResultStore(cluster().core, cluster().custom);

  it('a replica with a stale view keeps the piece another replica’s status lists; its own status write is refused', async function () {
    const read = await createJob(ns.name, makeJob('wc', ns.name).items(['a']).obj());
    const version = read.metadata.resourceVersion!;
    // Replica A stores items 10 and 11 and lists them.
    expect(await store().record(structuredClone(read), [R(10, 11)])).to.deep.equal([10]);
    await writeStatus(structuredClone(read), { completedIndexes: '10-11', resultPieces: '10' });
    // Replica B, its cache still at the version A read, has seen 12 succeed too.
    const firsts = await store().record(structuredClone(read), [R(10, 11, 12)]);
    expect(firsts).to.deep.equal([10, 12]);
    let refused: number | undefined;
    try {
      await writeStatus(structuredClone(read), { completedIndexes: '10-12', resultPieces: '10,12' });
    } catch (err) {
      refused = apiStatusCode(err);
    }
    expect(refused).to.equal(409);
    expect(await pieces(ns.name)).to.deep.equal({
      'wc-results-10': { data: R(10, 11).data, writtenAt: version },
      'wc-results-12': { data: R(12).data, writtenAt: version },
    });
    // B, caught up, stores 12 again (and 13): its own unlisted piece 12 is taken as it is, 13 goes beside it.
    const now = await getJob(ns.name, 'wc');
    expect(await store().record(structuredClone(now), [R(12, 13)])).to.deep.equal([12, 13]);
    const final = await writeStatus(structuredClone(now), {
      completedIndexes: '10-13',
      resultPieces: '10,12-13',
    });
    const listed = listedResults(
      'wc',
      final.status?.resultPieces,
      await jobConfigMaps(ns.name, 'wc', 'results'),
    );
    expect(listed).to.deep.equal([
      [10, '"r10"'],
      [11, '"r11"'],
      [12, '"r12"'],
      [13, '"r13"'],
    ]);
    expect((await pieces(ns.name))['wc-results-12']!.writtenAt).to.equal(now.metadata.resourceVersion);
  });

  it('a piece holding other results: the job is moved past its writer’s version, then it is replaced; one a status lists is kept', async function () {
    const read = await createJob(ns.name, makeJob('wc', ns.name).items(['a']).obj());
    const attempt = async (job: MapReduceJob, planned: Piece[]): Promise<string> => {
      try {
        await store().record(job, planned);
      } catch (err) {
        if (err instanceof PieceInUseError) return err.message;
        throw err;
      }
      return 'stored';
    };
    // A writer that read the job stores 10 and 15, then pauses before its status write.
    await store().record(structuredClone(read), [R(10, 15)]);
    // Another reconcile at the same version stores 10 and 11: it moves the job on, and retries.
    expect(await attempt(structuredClone(read), [R(10, 11)])).to.match(
      /written at the job's resourceVersion \d+; the job was moved past it \(mapreduce.dev\/results-fence\), so no status write can list it; retrying$/,
    );
    // The writer resumes: its status write can only conflict now.
    let refused: number | undefined;
    try {
      await writeStatus(structuredClone(read), { completedIndexes: '10,15', resultPieces: '10' });
    } catch (err) {
      refused = apiStatusCode(err);
    }
    expect(refused).to.equal(409);
    const moved = await getJob(ns.name, 'wc');
    expect(moved.metadata.annotations?.[ANNOTATION_RESULTS_FENCE]).to.equal(
      `wc-results-10@${read.metadata.resourceVersion}`,
    );
    // The retry, from the job as it is now, replaces the piece.
    expect(await attempt(structuredClone(moved), [R(10, 11)])).to.equal('stored');
    expect(await pieces(ns.name)).to.deep.equal({
      'wc-results-10': { data: R(10, 11).data, writtenAt: moved.metadata.resourceVersion },
    });
    // A piece a status lists is kept from a reconcile whose view is older than that status.
    const listing = await writeStatus(structuredClone(moved), {
      completedIndexes: '10-11',
      resultPieces: '10',
    });
    await store().record(structuredClone(listing), [R(20, 25)]);
    await writeStatus(structuredClone(listing), { completedIndexes: '10-11,20,25', resultPieces: '10,20' });
    expect(await attempt(structuredClone(listing), [R(20, 21)])).to.match(
      /the job's status lists it .*; retrying$/,
    );
    expect((await pieces(ns.name))['wc-results-20']!.data).to.deep.equal(R(20, 25).data);
  });
});
