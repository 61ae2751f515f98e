// Lets the plain TypeScript checks (root tsconfig, ESLint) import single-file components; vue-tsc
// (tsconfig.app.json) type-checks the .vue files themselves.
declare module '*.vue' {
  import type { DefineComponent } from 'vue';
  const component: DefineComponent<object, object, unknown>;
  export default component;
}
