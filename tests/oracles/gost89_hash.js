// Reads hex-encoded messages, one per line, on stdin; prints GOST 34.311-95 digests (hex), one per line.
'use strict';
const gost89 = require('gost89');
const lines = require('fs').readFileSync(0, 'utf8').split('\n').filter((l) => l.length > 0 || false);
for (const line of lines) {
  const data = Buffer.from(line === '-' ? '' : line, 'hex');
  process.stdout.write(gost89.gosthash(data).toString('hex') + '\n');
}
