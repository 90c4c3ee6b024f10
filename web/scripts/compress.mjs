// Writes .gz and .br siblings of the text files in dist/, which the server sends to clients that accept them
// (tower-http ServeDir with precompressed_gzip/br), and prints the sizes.
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const dist = new URL("../dist/", import.meta.url).pathname;
const compressible = /\.(js|css|html|svg|json|txt|map)$/;

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else yield path;
  }
}

const rows = [];
for (const path of files(dist)) {
  if (!compressible.test(path)) continue;
  const raw = readFileSync(path);
  const gz = gzipSync(raw, { level: 9 });
  const br = brotliCompressSync(raw, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length },
  });
  // Only worth it (and only served) when smaller.
  if (gz.length < raw.length) writeFileSync(`${path}.gz`, gz);
  if (br.length < raw.length) writeFileSync(`${path}.br`, br);
  rows.push([relative(dist, path), raw.length, gz.length, br.length]);
}
const kb = (n) => `${(n / 1024).toFixed(1)} kB`.padStart(9);
console.log("console build (raw / gzip / brotli):");
for (const [name, raw, gz, br] of rows) console.log(`  ${name.padEnd(34)} ${kb(raw)} ${kb(gz)} ${kb(br)}`);
