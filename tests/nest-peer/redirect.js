'use strict';
// A Nest HTTP app with `@Redirect()` routes (the docs' example among them) and
// `StreamableFile` answers, as tests/edge.rs declares ours: `node redirect.js <port>`,
// prints "ready <port>".
const { nest, decorateClass, decorateMethod, serveHttpApp } = require('./common');
const { Controller, Get, Module, Post, Query, Redirect, StreamableFile } = nest('@nestjs/common');
const { Readable } = require('stream');

class RedirectController {
  docs(version) {
    if (version && version === '5') {
      return { url: 'https://docs.nestjs.com/v5/' };
    }
  }
  moved() {}
  elsewhere() { return { url: '/x?a=<b>', statusCode: 307 }; }
  file() {
    return new StreamableFile(Buffer.from('{"name":"gateway"}'), {
      type: 'application/json',
      disposition: 'attachment; filename="package.json"',
    });
  }
  chunks() { return new StreamableFile(Readable.from([Buffer.from('one,'), Buffer.from('two')])); }
  made() { return new StreamableFile(Buffer.from('made'), { type: 'text/plain' }); }
}
decorateMethod(RedirectController, 'made', Post('file'));
decorateMethod(RedirectController, 'file', Get('file'));
decorateMethod(RedirectController, 'chunks', Get('chunks'));
Query('version')(RedirectController.prototype, 'docs', 0);
decorateMethod(RedirectController, 'docs', Get('docs'), Redirect('https://docs.nestjs.com', 302));
decorateMethod(RedirectController, 'moved', Get('moved'), Redirect('/new place/ü?q=%20&r=%zz', 301));
decorateMethod(RedirectController, 'elsewhere', Get('elsewhere'), Redirect());
decorateClass(RedirectController, Controller());

class AppModule {}
decorateClass(AppModule, Module({ controllers: [RedirectController] }));

serveHttpApp(AppModule, Number(process.argv[2]));
