'use strict';
// Prints Nest's own normalized route for each JSON pattern read from stdin (one per line),
// as a JSON string per line. Used to check our normalization against the real thing.
const { nest } = require('./common');
const { transformPatternToRoute } = nest('@nestjs/microservices/utils/transform-pattern.utils');
const lines = require('fs').readFileSync(0, 'utf8').split('\n').filter(Boolean);
for (const line of lines) {
  process.stdout.write(JSON.stringify(String(transformPatternToRoute(JSON.parse(line)))) + '\n');
}
