// Copyright the pysocklog authors. MIT license.
// The encoder's slabs, as the handlers see them (through record.ts): a
// frame kept by a FrameSink is released once written, and its slab reused.
export { releaseFrames } from "../pickle/_writer.ts";
