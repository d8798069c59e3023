// Copies the Matrix spec data the tests read into test/spec-data/: every file of the
// API folders named below, plus every file their `$ref`s reach (transitively), with
// the folder layout kept so the refs resolve unchanged, and the upstream LICENSE.
//
//   node scripts/vendor-spec-data.mjs /path/to/matrix-spec-data [FOLDER ...]
//
// FOLDER defaults to the ones the tests read now: api/client-server, api/push-gateway
// and event-schemas/schema.
//
// The source is the spec's `data/` folder (or a copy laid out the same way).
// test/spec-data/README.md says where the current copy came from; update it too.
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';

const [source, ...roots] = process.argv.slice(2);
if (!source) {
  console.error('usage: node scripts/vendor-spec-data.mjs SOURCE [FOLDER ...]');
  process.exit(2);
}
const folders =
  roots.length > 0 ? roots : ['api/client-server', 'api/push-gateway', 'event-schemas/schema'];
const target = path.resolve('test/spec-data');

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(full) : [full];
  });
}

/** Every `$ref` file path in a parsed document, resolved against `file`'s folder. */
function referencedFiles(doc, file, out = []) {
  if (Array.isArray(doc)) for (const item of doc) referencedFiles(item, file, out);
  else if (doc && typeof doc === 'object') {
    for (const [key, value] of Object.entries(doc)) {
      if (key === '$ref' && typeof value === 'string') {
        const filePart = value.split('#', 1)[0];
        if (filePart !== '') out.push(path.resolve(path.dirname(file), filePart));
      } else referencedFiles(value, file, out);
    }
  }
  return out;
}

const wanted = new Set();
const queue = folders.flatMap((folder) => filesUnder(path.resolve(source, folder)));
while (queue.length > 0) {
  const file = queue.pop();
  if (wanted.has(file)) continue;
  if (!existsSync(file)) throw new Error(`missing: ${file}`);
  wanted.add(file);
  if (/\.(ya?ml|json)$/.test(file)) {
    queue.push(...referencedFiles(parseYaml(readFileSync(file, 'utf8')), file));
  }
}

// The README is ours, not upstream's: it survives a refresh.
const readmePath = path.join(target, 'README.md');
const readme = existsSync(readmePath) ? readFileSync(readmePath) : undefined;
rmSync(target, { recursive: true, force: true });
mkdirSync(target, { recursive: true });
if (readme) writeFileSync(readmePath, readme);
for (const file of [...wanted, path.resolve(source, 'LICENSE')]) {
  const relative = path.relative(path.resolve(source), file);
  if (relative.startsWith('..')) throw new Error(`outside the source: ${file}`);
  mkdirSync(path.dirname(path.join(target, relative)), { recursive: true });
  cpSync(file, path.join(target, relative));
}
console.log(`copied ${wanted.size} files into ${path.relative(process.cwd(), target)}`);
