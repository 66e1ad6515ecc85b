// Copyright the pysocklog authors. MIT license.
/**
 * The one place that names this package's external imports.
 *
 * - `@std/log` (last release 0.224.14, from JSR): used by the `./std-log`
 *   entry only, so that the core (`mod.ts`) and the other entries have no
 *   dependency on JSR at all.
 * - LogTape (`@logtape/logtape`, from npm): the `./logtape` entry needs
 *   nothing of it at run time or for type-checking; its record and sink
 *   types are structural (see `logtape.ts`). The tests, examples and
 *   benchmarks use the real LogTape, mapped in `deno.json` under `scopes`
 *   (not `imports`, which `deno task` would install before every task, the
 *   demo's included).
 *
 * @module
 */

export {
  BaseHandler,
  type BaseHandlerOptions,
  type FormatterFunction,
  type LevelName,
  Logger as StdLogger,
  type LogRecord as StdLogRecord,
} from "@std/log";
