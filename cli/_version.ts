// Copyright the pysocklog authors. MIT license.

/** The package version, as in deno.json (a test keeps them equal). */
export const VERSION = "0.1.0";
