'use strict';
// A Nest HTTP app whose routes go through `@nestjs/cache-manager`'s CacheInterceptor, as
// tests/cache.rs declares ours: `node cached.js <port>`, prints "ready <port>". Every handler
// counts its calls, so a cached answer shows the count of the call that made it.
const { nest, decorateClass, decorateMethod, serveHttpApp } = require('./common');
const { Controller, Get, Module, NotFoundException, Post, UseInterceptors } = nest('@nestjs/common');
const { CacheInterceptor, CacheKey, CacheModule, CacheTTL } = nest('@nestjs/cache-manager');

let calls = 0;
const count = () => { calls += 1; return calls; };

class CachedController {
  list() { return { calls: count() }; }
  create() { return { calls: count() }; }
  text() { return `text ${count()}`; }
  keyed() { return { calls: count() }; }
  short() { return { calls: count() }; }
  missing() { count(); throw new NotFoundException('User not found'); }
  nothing() { count(); }
}
decorateMethod(CachedController, 'list', Get('list'));
decorateMethod(CachedController, 'create', Post('list'));
decorateMethod(CachedController, 'text', Get('text'));
decorateMethod(CachedController, 'keyed', Get('keyed'), CacheKey('keyed'));
decorateMethod(CachedController, 'short', Get('short'), CacheTTL(200));
decorateMethod(CachedController, 'missing', Get('missing'));
decorateMethod(CachedController, 'nothing', Get('nothing'));
decorateClass(CachedController, Controller('c'), UseInterceptors(CacheInterceptor));

class AppModule {}
decorateClass(AppModule, Module({ imports: [CacheModule.register()], controllers: [CachedController] }));

serveHttpApp(AppModule, Number(process.argv[2]));
