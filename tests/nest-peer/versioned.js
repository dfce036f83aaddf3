'use strict';
// A Nest HTTP app (Express) with versioned controllers, as tests/edge.rs declares ours:
// `node versioned.js <mode> <port>`, mode one of none | uri | uri-default-api | header |
// media | custom. Prints "ready <port>".
const { nest, decorateClass, decorateMethod, serveHttpApp } = require('./common');
const { Controller, Get, Module, Param, Version, VERSION_NEUTRAL, VersioningType } = nest('@nestjs/common');

class CatsV1Controller {
  list() { return 'cats v1'; }
}
decorateMethod(CatsV1Controller, 'list', Get());
decorateClass(CatsV1Controller, Controller({ path: 'cats', version: '1' }));

class CatsV2Controller {
  list() { return 'cats v2'; }
  one(id) { return `cat ${id} v2`; }
}
decorateMethod(CatsV2Controller, 'list', Get());
Param('id')(CatsV2Controller.prototype, 'one', 0);
decorateMethod(CatsV2Controller, 'one', Get(':id'));
decorateClass(CatsV2Controller, Controller({ path: 'cats', version: '2' }));

class UnversionedController {
  status() { return 'up'; }
  plain() { return 'plain'; }
  dogs() { return 'dogs'; }
}
decorateMethod(UnversionedController, 'status', Get('status'), Version(VERSION_NEUTRAL));
decorateMethod(UnversionedController, 'plain', Get('plain'));
decorateMethod(UnversionedController, 'dogs', Get('dogs'), Version(['1', '2']));
decorateClass(UnversionedController, Controller());

class AppModule {}
decorateClass(AppModule, Module({ controllers: [CatsV1Controller, CatsV2Controller, UnversionedController] }));

const modes = {
  none: () => {},
  uri: (app) => app.enableVersioning({ type: VersioningType.URI }),
  'uri-default-api': (app) => {
    app.enableVersioning({ type: VersioningType.URI, defaultVersion: '1' });
    app.setGlobalPrefix('api');
  },
  header: (app) => app.enableVersioning({ type: VersioningType.HEADER, header: 'X-API-Version' }),
  media: (app) => app.enableVersioning({ type: VersioningType.MEDIA_TYPE, key: 'v=' }),
  custom: (app) => app.enableVersioning({
    type: VersioningType.CUSTOM,
    extractor: (req) => String(req.query.versions || '').split(',').filter(Boolean).sort().reverse(),
  }),
};

const [mode, port] = [process.argv[2], Number(process.argv[3])];
serveHttpApp(AppModule, port, modes[mode]);
