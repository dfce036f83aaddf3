'use strict';
// A Nest HTTP app with `@Sse()` routes, as tests/edge.rs declares ours:
// `node sse.js <port>`, prints "ready <port>".
const { nest, decorateClass, decorateMethod, serveHttpApp } = require('./common');
const { BadRequestException, Controller, Module, Sse } = nest('@nestjs/common');
const { concat, from, throwError, timer } = nest('rxjs');
const { switchMap } = nest('rxjs/operators');

const events = () => [
  { data: { n: 1 } },
  { data: 'two\nlines', type: 'note' },
  { data: { n: 3 }, id: 'x' },
  { comment: 'ping' },
  { data: 'after', retry: 1500 },
];

class EventsController {
  events() { return from(events()); }
  // The error comes after the events are written: an error raised while writes are still
  // queued makes Nest drop them (its concatMap discards its buffer), which ours does not do.
  failing() {
    return concat(
      from(events().slice(0, 2)),
      timer(50).pipe(switchMap(() => throwError(() => new BadRequestException('boom')))),
    );
  }
}
decorateMethod(EventsController, 'events', Sse('events'));
decorateMethod(EventsController, 'failing', Sse('failing'));
decorateClass(EventsController, Controller());

class AppModule {}
decorateClass(AppModule, Module({ controllers: [EventsController] }));

serveHttpApp(AppModule, Number(process.argv[2]));
