'use strict';
// Applies TypeScript-style decorators from plain JavaScript (no build step needed).
function decorateMethod(cls, method, ...decorators) {
  const descriptor = Object.getOwnPropertyDescriptor(cls.prototype, method);
  for (const decorator of decorators) decorator(cls.prototype, method, descriptor);
  Object.defineProperty(cls.prototype, method, descriptor);
}

function decorateClass(cls, ...decorators) {
  for (const decorator of decorators) decorator(cls);
  return cls;
}

module.exports = { decorateMethod, decorateClass };
