// Prints the folders (relative to the repo) of the npm packages PACKAGE... need at run time, resolved from the
// repo's node_modules as Node resolves them, so an image can carry just those instead of all of node_modules.
//   node deps-closure.mjs REPO_ROOT PACKAGE...
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';

const [root, ...wanted] = process.argv.slice(2);
const seen = new Set();

function resolveFrom(dir, name) {
  for (let d = dir; ; d = path.dirname(d)) {
    const candidate = path.join(d, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (d === root || d === path.dirname(d)) return undefined;
  }
}

function visit(dir) {
  if (seen.has(dir)) return;
  seen.add(dir);
  const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  for (const [name, optional] of [
    ...Object.keys(pkg.dependencies ?? {}).map((n) => [n, false]),
    ...Object.keys(pkg.optionalDependencies ?? {}).map((n) => [n, true]),
    ...Object.keys(pkg.peerDependencies ?? {}).map((n) => [n, true]),
  ]) {
    const found = resolveFrom(dir, name);
    if (found) visit(found);
    else if (!optional) throw new Error(`${name}, a dependency of ${dir}, is not installed`);
  }
}

for (const name of wanted) {
  const found = resolveFrom(root, name);
  if (!found) throw new Error(`${name} is not installed under ${root}/node_modules (run npm ci)`);
  visit(found);
}
for (const dir of [...seen].sort()) process.stdout.write(`${path.relative(root, dir)}\n`);
