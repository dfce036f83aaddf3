'use strict';
// `@nestjs/jwt`'s JwtService, for tests/jwt.rs to check our tokens against Nest's:
// `node jwt.js sign <alg> <key file> <claims JSON>` prints a token Nest signed (`secret` is
// the key file's bytes for HS*, else a private key);
// `node jwt.js verify <alg> <key file> <token>` prints the claims Nest verified, or
// `{"error": <name>}`.
const fs = require('fs');
const { nest } = require('./common');
const { JwtService } = nest('@nestjs/jwt');

const [mode, algorithm, keyFile, arg] = process.argv.slice(2);
const key = fs.readFileSync(keyFile);
const hmac = algorithm.startsWith('HS');
const service = new JwtService(
  hmac
    ? { secret: key, signOptions: { algorithm, expiresIn: '60s' }, verifyOptions: { algorithms: [algorithm] } }
    : { privateKey: key, publicKey: key, signOptions: { algorithm, expiresIn: '60s' }, verifyOptions: { algorithms: [algorithm] } },
);
if (mode === 'sign') {
  process.stdout.write(service.sign(JSON.parse(arg)) + '\n');
} else {
  try {
    process.stdout.write(JSON.stringify(service.verify(arg)) + '\n');
  } catch (e) {
    process.stdout.write(JSON.stringify({ error: e.name, message: e.message }) + '\n');
  }
}
