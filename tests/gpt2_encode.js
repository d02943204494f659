// gpt2_encode.js — the reference side of tokenizer_parity.sh: GPT-2's encode() from the npm
// package gpt-3-encoder.
//
//   node gpt2_encode.js PKG_DIR encode FILE            prints the ids of FILE, one per line
//   node gpt2_encode.js PKG_DIR compare FILE OUR_IDS   compares our ids (one per line) with the
//                                                      package's; on a mismatch prints the first
//                                                      differing position with context, exits 1
'use strict';
const fs = require('fs');
const path = require('path');

const [pkgDir, mode, file, ours] = process.argv.slice(2);
if (!pkgDir || !file || (mode !== 'encode' && mode !== 'compare') || (mode === 'compare' && !ours)) {
  console.error('usage: node gpt2_encode.js PKG_DIR encode|compare FILE [OUR_IDS]');
  process.exit(2);
}
const gpt = require(path.resolve(pkgDir, 'node_modules', 'gpt-3-encoder'));
const bytes = fs.readFileSync(file);
const text = bytes.toString('utf8');
if (!Buffer.from(text, 'utf8').equals(bytes)) {
  console.error(`${file}: not valid UTF-8; the reference encoder only takes valid UTF-8 text`);
  process.exit(2);
}
const ref = gpt.encode(text);
if (mode === 'encode') {
  process.stdout.write(ref.map(String).join('\n') + (ref.length ? '\n' : ''));
  process.exit(0);
}

const got = fs.readFileSync(ours, 'utf8').split('\n').filter((s) => s.length).map(Number);
let i = 0;
while (i < got.length && i < ref.length && got[i] === ref[i]) i++;
if (i === got.length && i === ref.length) {
  console.log(`${path.basename(file)}: ${ref.length} tokens, identical to gpt-3-encoder`);
  process.exit(0);
}
const show = (ids) => JSON.stringify(gpt.decode(ids.filter((x) => Number.isInteger(x))));
// byte offset of the first differing token = length of the common prefix's decoded text
const offset = Buffer.byteLength(gpt.decode(ref.slice(0, i)), 'utf8');
const lo = Math.max(0, i - 5);
console.error(`${path.basename(file)}: MISMATCH at token ${i} (byte ${offset}); ` +
              `ours has ${got.length} tokens, gpt-3-encoder has ${ref.length}`);
console.error(`  text there:     ${JSON.stringify(bytes.subarray(Math.max(0, offset - 30), offset).toString("utf8"))} <<HERE>> ${JSON.stringify(bytes.subarray(offset, offset + 40).toString("utf8"))}`);
console.error(`  ours [${lo}..]:  ${got.slice(lo, i + 8).join(' ')}`);
console.error(`     = ${got.slice(lo, i + 8).map((x) => show([x])).join(' ')}`);
console.error(`  ref  [${lo}..]:  ${ref.slice(lo, i + 8).join(' ')}`);
console.error(`     = ${ref.slice(lo, i + 8).map((x) => show([x])).join(' ')}`);
process.exit(1);
