// Copyright the pysocklog authors. MIT license.
// @std/log and ../std_log.ts for tests that run only where @std/log
// resolves (JSR, or PYSOCKLOG_IMPORT_MAP). The specifiers are not literals,
// so type-checking a test file never needs @std/log.

const STD_LOG = "@std/log";
const ADAPTER = new URL("../std_log.ts", import.meta.url).href;

/**
 * `@std/log` and this package's `./std-log` adapter as the types `L` and
 * `A` the caller describes, or undefined where @std/log does not resolve:
 * then one SKIP line names `what`, unless the task runner printed its own
 * for the run (PYSOCKLOG_STD_LOG_SKIP_SHOWN).
 */
export async function importStdLog<L, A>(
  what: string,
): Promise<{ stdLog: L; adapter: A } | undefined> {
  try {
    const stdLog = await import(STD_LOG) as L;
    const adapter = await import(ADAPTER) as A;
    return { stdLog, adapter };
  } catch (error) {
    const why = error instanceof Error
      ? error.message.split("\n")[0]
      : String(error);
    if (!Deno.env.get("PYSOCKLOG_STD_LOG_SKIP_SHOWN")) {
      console.log(`SKIP ${what}: @std/log does not resolve (${why})`);
    }
    return undefined;
  }
}
