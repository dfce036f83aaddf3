'use strict';
// Interceptors that map the handler's value, and exception filters, on both sides.
// `node intercepted.js http <port>`: a Nest HTTP app whose routes are wrapped by
//   value-mapping interceptors, as tests/interceptor_values.rs declares ours; prints
//   "ready <port>".
// `node intercepted.js serve <port>`: a Nest TCP microservice whose controller has
//   interceptors and an RPC exception filter; prints "ready <port>".
// `node intercepted.js client <port>`: a Nest ClientProxy calling those handlers; prints one
//   JSON object of outcomes, to compare Nest's service with ours.
const { nest, decorateClass, decorateMethod, serveHttpApp, startTcpMicroservice } = require('./common');
const {
  Catch, Controller, Get, HttpCode, Module, NotFoundException, Post, UseFilters, UseInterceptors,
} = nest('@nestjs/common');
const { ClientProxyFactory, MessagePattern, RpcException, Transport } = nest('@nestjs/microservices');
const { from, lastValueFrom, map, of, throwError, toArray } = nest('rxjs');

// The docs' TransformInterceptor.
class Wrap {
  intercept(context, next) { return next.handle().pipe(map((data) => ({ data }))); }
}
// Adds the context's type to an object.
class Stamp {
  intercept(context, next) {
    return next.handle().pipe(map((data) => ({ ...data, stamped: context.getType() })));
  }
}
// Answers a field of the value: a string.
class Name {
  intercept(context, next) { return next.handle().pipe(map((data) => data.name)); }
}
// Answers without calling the handler.
class Cached {
  intercept() { return of('cached'); }
}

class ValuesController {
  object() { return { b: 1, a: [1, 2], id: '42' }; }
  text() { return 'hello'; }
  number() { return 3; }
  nothing() {}
  created() { return { id: 'o-1', items: ['book'] }; }
  accepted() { return { id: 'o-2' }; }
  name() { return { id: '42', name: 'Ada Lovelace' }; }
  missing() { throw new NotFoundException('User not found'); }
  cached() { return 'fresh'; }
}
decorateMethod(ValuesController, 'object', Get('object'), UseInterceptors(Wrap));
decorateMethod(ValuesController, 'text', Get('text'), UseInterceptors(Wrap));
decorateMethod(ValuesController, 'number', Get('number'), UseInterceptors(Wrap));
decorateMethod(ValuesController, 'nothing', Get('nothing'), UseInterceptors(Wrap));
decorateMethod(ValuesController, 'created', Post('created'), UseInterceptors(Wrap, Stamp));
decorateMethod(ValuesController, 'accepted', Post('accepted'), HttpCode(202), UseInterceptors(Stamp));
decorateMethod(ValuesController, 'name', Get('name'), UseInterceptors(Name));
decorateMethod(ValuesController, 'missing', Get('missing'), UseInterceptors(Wrap));
decorateMethod(ValuesController, 'cached', Get('cached'), UseInterceptors(Wrap, Cached));
decorateClass(ValuesController, Controller('v'));

class HttpModule {}
decorateClass(HttpModule, Module({ controllers: [ValuesController] }));

// Adds `filtered: <context type>` to an object error.
class RpcFilter {
  catch(exception, host) {
    const error = exception.getError();
    return throwError(() => ({ ...error, filtered: host.getType() }));
  }
}
decorateClass(RpcFilter, Catch(RpcException));
// Answers a failed call with a value.
class Recover {
  catch(exception) { return of({ recovered: exception.getError().message }); }
}
decorateClass(Recover, Catch(RpcException));

class UsersController {
  user(data) { return { id: String(data.id), name: 'Ada Lovelace' }; }
  fail() { throw new RpcException({ statusCode: 404, message: 'User not found' }); }
  count() { return from([1, 2, 3]); }
  cached() { return 'fresh'; }
  stamped() { return { id: '7' }; }
  recover() { throw new RpcException({ message: 'gone' }); }
}
decorateMethod(UsersController, 'user', MessagePattern({ cmd: 'user' }));
decorateMethod(UsersController, 'fail', MessagePattern({ cmd: 'fail' }));
decorateMethod(UsersController, 'count', MessagePattern({ cmd: 'count' }));
decorateMethod(UsersController, 'cached', MessagePattern({ cmd: 'cached' }), UseInterceptors(Cached));
decorateMethod(UsersController, 'stamped', MessagePattern({ cmd: 'stamped' }), UseInterceptors(Stamp));
decorateMethod(UsersController, 'recover', MessagePattern({ cmd: 'recover' }), UseFilters(Recover));
decorateClass(UsersController, Controller(), UseInterceptors(Wrap), UseFilters(RpcFilter));

class RpcModule {}
decorateClass(RpcModule, Module({ controllers: [UsersController] }));

async function outcome(observable) {
  try {
    return { ok: await lastValueFrom(observable.pipe(toArray())) };
  } catch (e) {
    return { err: e instanceof Error ? { jsError: e.message } : e };
  }
}

async function client(port) {
  const proxy = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
  await proxy.connect();
  const r = {};
  r.user = await outcome(proxy.send({ cmd: 'user' }, { id: 42 }));
  r.fail = await outcome(proxy.send({ cmd: 'fail' }, {}));
  r.count = await outcome(proxy.send({ cmd: 'count' }, 3));
  r.cached = await outcome(proxy.send({ cmd: 'cached' }, {}));
  r.stamped = await outcome(proxy.send({ cmd: 'stamped' }, {}));
  r.recover = await outcome(proxy.send({ cmd: 'recover' }, {}));
  proxy.close();
  process.stdout.write(JSON.stringify(r) + '\n');
}

const [mode, port] = [process.argv[2], Number(process.argv[3])];
const run = { http: () => serveHttpApp(HttpModule, port), serve: () => startTcpMicroservice(RpcModule, port), client: () => client(port) }[mode];
Promise.resolve(run()).catch((e) => {
  console.error(e);
  process.exit(1);
});
