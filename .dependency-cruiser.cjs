/**
 * The layers of Weft, checked by `npm run lint:layers` (part of `npm test`).
 * From the bottom: util, protocol (Matrix errors, parameter reading), the
 * event rules (events/), domain types (domain/), storage, the services of each
 * spec area, the HTTP layer and its handlers (http/, api/), the composition
 * root (app.ts) and the CLI. See docs/ARCHITECTURE.md, "Layers".
 */
const PURE = [
  '^src/(util|protocol|domain|events)/',
  // The pure rule modules of the service folders.
  '^src/[^/]+/[^/]+-(rules|plan)\\.ts$',
  '^src/push/(ruleset|evaluator|compiled-rules|default-rules)\\.ts$',
  '^src/sync/(filters|sync-response|stream-token)\\.ts$',
  '^src/media/headers\\.ts$',
];
const IO_PACKAGES = 'node_modules/(fastify|better-sqlite3|pino|sharp|@node-rs)/';

module.exports = {
  forbidden: [
    {
      name: 'no-folder-cycles',
      comment: 'Folders form layers: no folder depends on itself through others.',
      severity: 'error',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-module-cycles',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'pure-rules-no-io',
      comment: 'Protocol rules are pure: no HTTP, no storage, no handlers, no I/O packages.',
      severity: 'error',
      from: { path: PURE },
      to: { path: ['^src/(http|storage|api|cli)/', '^src/app\\.ts$', IO_PACKAGES] },
    },
    {
      name: 'storage-below-services',
      comment: 'Storage runs queries: it imports only what is below it.',
      severity: 'error',
      from: { path: '^src/storage/' },
      to: { path: '^src/', pathNot: '^src/(storage|events|domain|protocol|util|config)/' },
    },
    {
      name: 'handlers-no-storage',
      comment: 'Handlers get services, never storage.',
      severity: 'error',
      from: { path: '^src/api/' },
      to: { path: '^src/storage/' },
    },
    {
      name: 'services-no-http',
      comment: 'Services and rules know nothing of HTTP: only handlers, the router and app.ts do.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(http|api|app\\.ts|cli)' },
      to: { path: ['^src/http/', '^src/api/', 'node_modules/fastify/'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
