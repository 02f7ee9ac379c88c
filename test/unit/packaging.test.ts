// What can be checked about the image without a container engine: the Dockerfile's final stage, the
// build context, and that the entrypoint is what `npm run build` produces.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { load } from 'js-yaml';
import { REPO_ROOT } from '../support/cluster.js';

const dockerfile = readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));

describe('container image', function () {
  it('runs the final stage on Node.js 24 as a non-root user', function () {
    expect(finalStage).to.match(/^\nFROM gcr\.io\/distroless\/nodejs24-debian12:nonroot\n/);
    const user = /^USER (\d+):(\d+)$/m.exec(finalStage);
    expect(user?.slice(1).map(Number)).to.deep.equal([65532, 65532]);
  });

  it('starts dist/main.js, which the build produces from src/main.ts', function () {
    expect(/^ENTRYPOINT (.*)$/m.exec(finalStage)?.[1]).to.equal('["/nodejs/bin/node", "dist/main.js"]');
    const build = JSON.parse(readFileSync(path.join(REPO_ROOT, 'tsconfig.build.json'), 'utf8')) as {
      compilerOptions: { rootDir: string; outDir: string };
    };
    expect(build.compilerOptions).to.deep.include({ rootDir: 'src', outDir: 'dist' });
    expect(existsSync(path.join(REPO_ROOT, 'src', 'main.ts'))).to.equal(true);
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      main: string;
      engines: { node: string };
    };
    expect(pkg.main).to.equal('dist/main.js');
    expect(pkg.engines.node).to.equal('>=24 <25');
  });

  it("sizes V8's heap the same way in the image, the chart and npm start", function () {
    const image = /^ENV NODE_OPTIONS="(.*)"$/m.exec(finalStage)?.[1];
    expect(image).to.equal('--max-semi-space-size=16 --max-old-space-size=256');
    const values = load(
      readFileSync(path.join(REPO_ROOT, 'charts', 'mapreduce-operator', 'values.yaml'), 'utf8'),
    ) as { nodeOptions: string };
    expect(values.nodeOptions).to.equal(image);
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      scripts: { start: string };
    };
    expect(pkg.scripts.start).to.equal(`node ${image} dist/main.js`);
  });

  it('copies only production dependencies and the build output into the final stage', function () {
    expect(dockerfile).to.include('npm prune --omit=dev');
    const copies = [...finalStage.matchAll(/^COPY --from=build (\S+) /gm)].map((m) => m[1]);
    expect(copies).to.deep.equal(['/src/package.json', '/src/node_modules', '/src/dist']);
  });

  it('keeps tests, node_modules and local state out of the build context', function () {
    const lines = readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    expect(lines).to.deep.equal([
      '*',
      '!package.json',
      '!package-lock.json',
      '!tsconfig.json',
      '!tsconfig.build.json',
      '!src/',
    ]);
  });
});
