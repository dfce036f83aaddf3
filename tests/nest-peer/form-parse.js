'use strict';
// Express's urlencoded parser as Nest's Express adapter registers it (`extended: true`),
// on bodies read from stdin (a JSON array of strings). Prints a JSON array of
// [status, body]: what `req.body` became (JSON.stringify), or the error's status.
const { nest } = require('./common');
const http = require('http');
const express = nest('express');

const app = express();
app.use(express.urlencoded({ extended: true }));
app.post('/', (req, res) => res.type('text/plain').send(JSON.stringify(req.body)));
app.use((err, req, res, next) => res.status(err.status || 500).type('text/plain').send(''));

function post(port, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ port, method: 'POST', path: '/', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => resolve([res.statusCode, text]));
    });
    req.on('error', reject);
    req.end(body);
  });
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const server = app.listen(0, '127.0.0.1', async () => {
    const results = [];
    for (const body of JSON.parse(input)) results.push(await post(server.address().port, body));
    process.stdout.write(JSON.stringify(results) + '\n');
    server.close();
  });
});
