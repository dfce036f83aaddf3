'use strict';
// Which of several exception filters answers, as tests/edge.rs declares ours: two on a
// route, two on its controller, two global; each answers 418 `{"by": <name>}`.
// `node filters.js <port>`, prints "ready <port>".
const { nest, decorateClass, decorateMethod, serveHttpApp } = require('./common');
const { Catch, Controller, Get, Module, UseFilters, NotFoundException } = nest('@nestjs/common');
const mk = (name) => { class F { catch(e, host) { host.switchToHttp().getResponse().status(418).json({ by: name }); } } decorateClass(F, Catch()); return F; };
const [A, B, C1, C2, G1, G2] = ['A', 'B', 'C1', 'C2', 'G1', 'G2'].map(mk);
class C {
  both() { throw new NotFoundException(); }
  none() { throw new NotFoundException(); }
}
decorateMethod(C, 'both', Get('both'), UseFilters(new A(), new B()));
decorateMethod(C, 'none', Get('none'));
decorateClass(C, Controller(), UseFilters(new C1(), new C2()));
class M {}
decorateClass(M, Module({ controllers: [C] }));
serveHttpApp(M, Number(process.argv[2]), (app) => app.useGlobalFilters(new G1(), new G2()));
