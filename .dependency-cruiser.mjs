// dependency-cruiser: the import-cycle check of `npm run lint` (STYLE.md: "No import cycles").
// Type-only imports count: with tsPreCompilationDeps the graph is the one the source
// declares, before the compiler drops `import type`. A cycle of types still ties two
// modules' designs together, and the fast path and the routes are meant to be layers.
/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A module of src/ imports (maybe through others) a module that imports it back.',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
